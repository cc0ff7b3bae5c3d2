"""Server counters in Prometheus text: vLLM's names, plus memscore's in-flight integrals."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class ServerMetrics:
    """Counts requests and tokens; integrates the in-flight count over time (for saturation)."""

    model: str
    prompt_tokens: int = 0
    generation_tokens: int = 0
    successes: int = 0
    running: int = 0
    busy_slot_seconds: float = 0.0
    active_seconds: float = 0.0
    _since: float = field(default_factory=time.monotonic)

    def _advance(self) -> None:
        now = time.monotonic()
        elapsed = now - self._since
        self.busy_slot_seconds += self.running * elapsed
        if self.running:
            self.active_seconds += elapsed
        self._since = now

    def started(self) -> None:
        self._advance()
        self.running += 1

    def finished(self) -> None:
        self._advance()
        self.running -= 1

    def render(self, computed_tokens: int, reused_tokens: int, lanes: tuple[int, int, float]) -> str:
        """The counters, with the model's: tokens computed and reused, and its lanes (how many, the most computing
        at once, and the integral of those computing over time)."""
        self._advance()
        label = f'{{model_name="{self.model}"}}'
        lines = [
            ("vllm:prompt_tokens_total", "counter", "Prompt tokens processed.", self.prompt_tokens),
            ("vllm:generation_tokens_total", "counter", "Tokens generated.", self.generation_tokens),
            ("vllm:request_success_total", "counter", "Completed generation requests.", self.successes),
            ("vllm:num_requests_running", "gauge", "Requests in flight.", self.running),
            ("memscore:busy_slot_seconds_total", "counter", "Integral of in-flight requests over time.",
             self.busy_slot_seconds),
            ("memscore:active_seconds_total", "counter", "Time with at least one request in flight.",
             self.active_seconds),
            ("memscore:computed_prompt_tokens_total", "counter", "Prompt tokens run through the model.",
             computed_tokens),
            ("memscore:reused_prompt_tokens_total", "counter", "Prompt tokens answered from the prefix cache.",
             reused_tokens),
            ("memscore:lanes", "gauge", "Requests the model computes at once.", lanes[0]),
            ("memscore:peak_busy_lanes", "gauge", "Most lanes computing at once so far.", lanes[1]),
            ("memscore:busy_lane_seconds_total", "counter", "Integral of the lanes computing over time.",
             lanes[2]),
        ]
        out = []
        for name, kind, text, value in lines:
            out += [f"# HELP {name} {text}", f"# TYPE {name} {kind}", f"{name}{label} {value}"]
        return "\n".join(out) + "\n"
