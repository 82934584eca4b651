"""Replays written to files: GIF, MP4 or WebM for images, plain text for text frames.

imageio writes the images (its ffmpeg plugin, with the binary imageio-ffmpeg ships, the
videos); it is imported only when a replay is written.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from aigc.submissions.replay import Replay, ReplayError

VIDEO_SUFFIXES = {".gif": None, ".mp4": "libx264", ".webm": "libvpx-vp9"}
TEXT_SUFFIXES = (".txt",)
SUFFIXES = (*VIDEO_SUFFIXES, *TEXT_SUFFIXES)


def check_suffix(path: Path, kind: str) -> str:
    """The file's kind by its suffix; raise ReplayError if it cannot hold this replay."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ReplayError(f"cannot write {path.name}: name it .gif, .mp4, .webm or .txt")
    if kind == "text" and suffix != ".txt":
        raise ReplayError(
            f"this environment renders text, not images: write it to a .txt file, not {suffix}"
        )
    return suffix


def replay_text(replay: Replay) -> str:
    """A text replay as one text: every kept frame, then the episode's outcome."""
    episode = replay.episode
    lines = [
        f"episode {episode.index}, seed {episode.seed}: return {replay.total_return:.6g} "
        f"in {replay.length} steps"
    ]
    if "prompt" in replay.info and "completion" in replay.info:
        lines += [f"prompt: {replay.info['prompt']}", f"completion: {replay.info['completion']}"]
        lines += [
            f"{name}: {replay.info[name]:.6g}"
            for name in ("score", "gold", "nll", "distinct_2")
            if isinstance(replay.info.get(name), int | float)
        ]
        return "\n".join(lines) + "\n"
    if replay.kind == "text":
        step = 0
        for frame in replay.frames:
            lines += [f"--- step {step} ---", str(frame).rstrip("\n")]
            step += replay.steps_per_frame
    return "\n".join(lines) + "\n"


def write_replay(replay: Replay, path: Path) -> Path:
    """Write the replay to ``path`` in the format its suffix names."""
    suffix = check_suffix(path, replay.kind)
    if suffix == ".txt":
        path.write_text(replay_text(replay), encoding="utf-8")
        return path
    frames = np.stack(replay.frames)
    if suffix == ".gif":
        import imageio.v3 as iio

        # GIF delays are in hundredths of a second: at most 100 frames a second.
        duration = max(10, round(1000 / replay.fps / 10) * 10)
        iio.imwrite(path, frames, extension=".gif", duration=duration, loop=0)
        return path
    import imageio.v2 as imageio

    # yuv420p video needs even sides; pad with the edge rather than resample.
    height, width = frames.shape[1:3]
    frames = np.pad(frames, ((0, 0), (0, height % 2), (0, width % 2), (0, 0)), mode="edge")
    writer = imageio.get_writer(
        path,
        format="FFMPEG",
        fps=replay.fps,
        codec=VIDEO_SUFFIXES[suffix],
        macro_block_size=1,
        pixelformat="yuv420p",
        ffmpeg_log_level="error",
    )
    try:
        for frame in frames:
            writer.append_data(frame)
    finally:
        writer.close()
    return path
