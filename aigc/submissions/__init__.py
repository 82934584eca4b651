"""What a submission is and how it runs.

Agent packages and their archives, challenge specs, the wire protocol between the
trusted evaluator and the agent, the agent runtime (which runs inside the sandbox), the
sandboxes and the evaluator. Plain library code: no web framework, database or queue.
"""
