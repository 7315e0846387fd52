"""The pictures of lab 4's queue experiments (matplotlib, drawn the same on every run)."""

from __future__ import annotations

from collections.abc import Sequence

from .measure import Summary

FLOOR_MS = 0.1  # a log scale has no zero: delays under 0.1 ms are drawn at 0.1 ms


def delays(summaries: Sequence[Summary], title: str):
    """Quiet tenants' p50 and p99 delay per strategy, side by side, on a log scale."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 3.4))
    names = [s.strategy for s in summaries]
    for offset, (label, values) in enumerate((("p50", [s.p50 for s in summaries]),
                                              ("p99", [s.p99 for s in summaries]))):
        shown = [max(v * 1000, FLOOR_MS) for v in values]
        bars = ax.bar([i + (offset - 0.5) * 0.38 for i in range(len(names))], shown, 0.38,
                      label=label, color=("#4c72b0", "#dd8452")[offset])
        for bar, value in zip(bars, values, strict=True):
            ax.annotate(_ms(value), (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                        ha="center", va="bottom", fontsize=7)
    ax.set_yscale("log")
    ax.set_xticks(range(len(names)), names, fontsize=8)
    ax.set_ylabel("quiet tenants' wait (ms)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def blast(points: Sequence[tuple[int, float, float]], n: int):
    """Analytic against measured blast radius, for each k (``(k, analytic, measured)``)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.2, 3.2))
    ks = [k for k, _, _ in points]
    ax.plot(ks, [a for _, a, _ in points], "o-", label="analytic 1 / C(n, k)")
    ax.plot(ks, [m for _, _, m in points], "s--", label="measured (share of quiet tenants hurt)")
    ax.set_yscale("log")
    ax.set_xticks(ks)
    ax.set_xlabel(f"k (queues per tenant, of n = {n})")
    ax.set_ylabel("share of tenants hurt")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _ms(seconds: float) -> str:
    ms = seconds * 1000
    return f"{ms / 1000:.1f} s" if ms >= 1000 else f"{ms:.1f} ms"
