"""A small causal transformer language model, in torch alone.

One readable file in the manner of nanoGPT: token and position embeddings, ``n_layer``
pre-norm blocks of causal self-attention and an MLP, a final layer norm, and an output layer
tied to the token embedding. :meth:`CausalLM.generate` keeps the keys and values of the
sequence so far (a KV cache), so sampling a token costs one position, not the whole
sequence, while the sequence fits in ``block_size``. :class:`SlotCache` and
:meth:`CausalLM.slot_logits` do the same for a batch of sequences of different lengths that
come and go (the text agent's observations), each keeping its keys and values in a slot.

This module imports nothing but torch: agent packages of language-model policies carry a
copy of it (``aigc.baselines.text_agent``), so it runs in the agent sandbox as it is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import cast

import torch
from torch import nn
from torch.nn import functional as F

# The tokenizer's <|endoftext|> (aigc.envs.textgen.tokenizer.END_OF_TEXT_ID): sequences
# start with it and a completion ends with it.
END_OF_TEXT_ID = 0


@dataclass(frozen=True)
class LMConfig:
    """The shape of a :class:`CausalLM`."""

    vocab_size: int = 4096
    """number of tokens (the tokenizer's vocabulary size)"""
    block_size: int = 128
    """longest sequence the model reads, in tokens"""
    n_layer: int = 4
    """number of transformer blocks"""
    n_head: int = 4
    """attention heads per block"""
    n_embd: int = 256
    """width of the residual stream"""
    dropout: float = 0.0
    """dropout rate inside the blocks during training"""

    def __post_init__(self) -> None:
        if self.n_embd % self.n_head:
            raise ValueError(
                f"n_embd={self.n_embd} is not a multiple of n_head={self.n_head}: change one"
            )


KeyValues = tuple[torch.Tensor, torch.Tensor]
"""The keys and values of one attention layer for the positions seen so far."""


class SlotCache:
    """The keys and values of many sequences, one slot each, in every attention layer.

    Layer i keeps ``keys[i]`` and ``values[i]`` of shape (slots, n_head, length, head size):
    a slot holds the first positions of one sequence. What a slot holds past the length of
    its sequence is never attended to, so a slot is reused without being cleared.
    """

    def __init__(self, config: LMConfig, slots: int, length: int) -> None:
        if not 1 <= length <= config.block_size:
            raise ValueError(f"length={length}: give 1 to block_size={config.block_size}")
        shape = (slots, config.n_head, length, config.n_embd // config.n_head)
        self.keys = [torch.zeros(shape) for _ in range(config.n_layer)]
        self.values = [torch.zeros(shape) for _ in range(config.n_layer)]

    @property
    def slots(self) -> int:
        """Number of slots."""
        return self.keys[0].shape[0]

    @property
    def length(self) -> int:
        """Longest sequence a slot holds, in positions."""
        return self.keys[0].shape[2]

    def grow(self, slots: int) -> None:
        """Make room for at least ``slots`` slots, keeping what the slots hold."""
        extra = slots - self.slots
        if extra > 0:
            more = (extra, *self.keys[0].shape[1:])
            self.keys = [torch.cat([k, torch.zeros(more)]) for k in self.keys]
            self.values = [torch.cat([v, torch.zeros(more)]) for v in self.values]


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention in which each position sees only itself and earlier ones."""

    def __init__(self, config: LMConfig) -> None:
        super().__init__()
        self.n_head = config.n_head
        self.dropout = config.dropout
        self.qkv = nn.Linear(config.n_embd, 3 * config.n_embd)
        self.proj = nn.Linear(config.n_embd, config.n_embd)

    def forward(
        self, x: torch.Tensor, past: KeyValues | None = None
    ) -> tuple[torch.Tensor, KeyValues]:
        """Attend from ``x`` to ``past`` and ``x``; return the output and the keys and values."""
        batch, time, width = x.shape
        q, k, v = self.qkv(x).split(width, dim=2)
        q, k, v = (t.view(batch, time, self.n_head, -1).transpose(1, 2) for t in (q, k, v))
        mask = None
        if past is not None:
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)
            # Query i sits at position len(past) + i and sees every key up to there.
            mask = torch.ones(time, k.shape[2], dtype=torch.bool).tril(k.shape[2] - time)
        dropout = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=dropout, is_causal=past is None
        )
        return self.proj(y.transpose(1, 2).reshape(batch, time, width)), (k, v)

    def forward_in_slots(
        self,
        x: torch.Tensor,
        keys: torch.Tensor,
        values: torch.Tensor,
        slots: torch.Tensor,
        starts: torch.Tensor,
    ) -> torch.Tensor:
        """Attend from ``x`` (batch, time, width), row b at positions ``starts[b]`` on, to
        the positions before them in the row's slot of ``keys`` and ``values`` and to
        itself; write its own keys and values into the slot."""
        batch, time, width = x.shape
        q, k, v = self.qkv(x).split(width, dim=2)
        q = q.view(batch, time, self.n_head, -1).transpose(1, 2)
        positions = starts[:, None] + torch.arange(time)
        # Indexed by (slot, position), the slot's cache has shape (batch, time, head, size).
        keys[slots[:, None], :, positions] = k.view(batch, time, self.n_head, -1)
        values[slots[:, None], :, positions] = v.view(batch, time, self.n_head, -1)
        end = int(positions[:, -1].max()) + 1
        k, v = keys[:, :, :end].index_select(0, slots), values[:, :, :end].index_select(0, slots)
        # Query t of row b sits at starts[b] + t and sees every key up to there.
        mask = (torch.arange(end) <= positions[:, :, None])[:, None]
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.proj(y.transpose(1, 2).reshape(batch, time, width))


class Block(nn.Module):
    """A pre-norm transformer block: attention, then a 4x-wide GELU MLP, each residual."""

    def __init__(self, config: LMConfig) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(config.n_embd)
        self.attn = CausalSelfAttention(config)
        self.ln2 = nn.LayerNorm(config.n_embd)
        self.mlp = nn.Sequential(
            nn.Linear(config.n_embd, 4 * config.n_embd),
            nn.GELU(),
            nn.Linear(4 * config.n_embd, config.n_embd),
            nn.Dropout(config.dropout),
        )

    def forward(
        self, x: torch.Tensor, past: KeyValues | None = None
    ) -> tuple[torch.Tensor, KeyValues]:
        """Return the block's output and its attention's keys and values."""
        attended, present = self.attn(self.ln1(x), past)
        x = x + attended
        return x + self.mlp(self.ln2(x)), present

    def forward_in_slots(
        self,
        x: torch.Tensor,
        keys: torch.Tensor,
        values: torch.Tensor,
        slots: torch.Tensor,
        starts: torch.Tensor,
    ) -> torch.Tensor:
        """Return the block's output, its attention reading and writing the cache slots."""
        x = x + self.attn.forward_in_slots(self.ln1(x), keys, values, slots, starts)
        return x + self.mlp(self.ln2(x))


class Transformer(nn.Module):
    """Token and position embeddings, ``n_layer`` blocks and a final layer norm: the trunk
    that the language model and the reward model put their heads on."""

    def __init__(self, config: LMConfig) -> None:
        super().__init__()
        self.config = config
        self.tok_emb = nn.Embedding(config.vocab_size, config.n_embd)
        self.pos_emb = nn.Embedding(config.block_size, config.n_embd)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd)

    def num_parameters(self) -> int:
        """Return the number of distinct parameters (a tied layer counts once)."""
        return sum(p.numel() for p in self.parameters())

    def hidden_states(
        self, idx: torch.Tensor, past: list[KeyValues] | None = None
    ) -> tuple[torch.Tensor, list[KeyValues]]:
        """Return the final (normed) hidden states of ``idx`` and every layer's keys and values.

        With ``past`` (from an earlier call), ``idx`` continues the sequence that ``past`` holds.
        """
        start = past[0][0].shape[2] if past else 0
        end = start + idx.shape[1]
        if end > self.config.block_size:
            raise ValueError(
                f"a sequence of {end} tokens is longer than block_size="
                f"{self.config.block_size}: crop it to its last {self.config.block_size} tokens"
            )
        positions = torch.arange(start, end, device=idx.device)
        x = self.drop(self.tok_emb(idx) + self.pos_emb(positions))
        present = []
        for i, block in enumerate(self.blocks):
            x, layer = block(x, past[i] if past else None)
            present.append(layer)
        return self.ln_f(x), present


class CausalLM(Transformer):
    """A GPT-style language model over the environment's tokens."""

    def __init__(self, config: LMConfig) -> None:
        super().__init__(config)
        self.head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.head.weight = self.tok_emb.weight  # tied: fewer parameters, better small models
        self.apply(self._init_weights)
        # GPT-2's scaled init of the layers that write into the residual stream.
        for name, parameter in self.named_parameters():
            if name.endswith(("attn.proj.weight", "mlp.2.weight")):
                nn.init.normal_(parameter, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Return logits of shape (batch, time, vocab) and, given targets, the mean loss.

        Targets equal to -100 are ignored by the loss.
        """
        hidden, _ = self.hidden_states(idx)
        logits = self.head(hidden)
        if targets is None:
            return logits, None
        loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=-100)
        return logits, loss

    @torch.no_grad()
    def next_token_logits(
        self, idx: torch.Tensor, past: list[KeyValues] | None = None
    ) -> tuple[torch.Tensor, list[KeyValues] | None]:
        """Return the logits of the token after ``idx`` (batch, vocab) and a cache for the next.

        Pass the returned cache with the next tokens alone (``idx`` of shape (batch, 1)) to
        skip recomputing the sequence. Without a cache, a sequence longer than ``block_size``
        is cropped to its last ``block_size`` tokens; the cache returned is None once the
        sequence fills ``block_size``, so the next call recomputes the cropped sequence.
        """
        if past is None:
            idx = idx[:, -self.config.block_size :]
        hidden, present = self.hidden_states(idx, past)
        logits = self.head(hidden[:, -1, :])
        fits = present[0][0].shape[2] < self.config.block_size
        return logits, present if fits else None

    @torch.no_grad()
    def slot_logits(
        self,
        idx: torch.Tensor,
        starts: torch.Tensor,
        last: torch.Tensor,
        cache: SlotCache,
        slots: torch.Tensor,
    ) -> torch.Tensor:
        """Return the logits of the token after position ``last[b]`` of each row, (batch,
        vocab).

        Row b of ``idx`` (batch, time) continues the sequence that slot ``slots[b]`` of
        ``cache`` holds up to position ``starts[b]`` (0 for a new sequence): its tokens sit
        at positions ``starts[b]`` on, and their keys and values are written into the slot.
        Positions of a row past ``last[b]`` are padding, which its real tokens never see.
        """
        time = idx.shape[1]
        end = int(starts.max()) + time
        if end > cache.length:
            raise ValueError(
                f"a sequence of {end} tokens is longer than the cache's {cache.length}: "
                "recompute it with next_token_logits()"
            )
        positions = starts[:, None] + torch.arange(time)
        x = self.tok_emb(idx) + self.pos_emb(positions)
        blocks = cast("list[Block]", self.blocks)
        for block, keys, values in zip(blocks, cache.keys, cache.values, strict=True):
            x = block.forward_in_slots(x, keys, values, slots, starts)
        hidden = self.ln_f(x[torch.arange(len(idx)), last])
        return self.head(hidden)

    @torch.no_grad()
    def generate(
        self,
        idx: torch.Tensor,
        max_new_tokens: int,
        temperature: float | torch.Tensor = 1.0,
        top_k: int | None = None,
        generator: torch.Generator | None = None,
        stop_token: int | None = END_OF_TEXT_ID,
    ) -> torch.Tensor:
        """Sample up to ``max_new_tokens`` tokens after each row of ``idx`` (batch, time).

        ``temperature`` is one float or one per row, a tensor of shape (batch,). A row that
        has produced ``stop_token`` keeps producing it, so rows stay aligned.
        """
        temperature = torch.as_tensor(temperature, dtype=torch.float32).clamp_min(1e-6)
        if temperature.dim() == 1:
            temperature = temperature[:, None]
        done = torch.zeros(idx.shape[0], dtype=torch.bool, device=idx.device)
        past: list[KeyValues] | None = None
        for _ in range(max_new_tokens):
            logits, past = self.next_token_logits(idx if past is None else idx[:, -1:], past)
            logits = logits / temperature
            if top_k is not None:
                kth = torch.topk(logits, min(top_k, logits.shape[-1])).values[:, -1, None]
                logits = logits.masked_fill(logits < kth, -math.inf)
            token = torch.multinomial(F.softmax(logits, dim=-1), 1, generator=generator)
            if stop_token is not None:
                token = token.masked_fill(done[:, None], stop_token)
                done |= token[:, 0] == stop_token
            idx = torch.cat([idx, token], dim=1)
            if stop_token is not None and bool(done.all()):
                break
        return idx
