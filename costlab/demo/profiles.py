"""Every number the demo uses that is not read from costlab/data/, named, with where it comes from.

Prices, GPU counts and memory come from the shipped Karpenter tables; request token counts from
the shipped Azure LLM / Mooncake traces. The rest is below. tests/test_demo.py checks the shapes
against figures derived from the research-only Alibaba traces and the unlicensed SkyPilot catalog,
which costlab cannot ship: those figures are cited constants there, not the data.
"""

from __future__ import annotations

from datetime import UTC, datetime

# The demo ends at a fixed instant so a seed always gives the same dollars (a Monday, 00:00 UTC).
DEMO_END = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)
# Scrape interval of the synthetic Prometheus: the dcgm-exporter Helm chart collects every 30 s;
# 60 s keeps a week of a few hundred GPUs small while keeping minute resolution.
STEP_S = 60
# The Horizontal Pod Autoscaler / KEDA re-evaluates replicas; the demo changes them every 15 min.
AUTOSCALE_SLOT_MIN = 15

# Inference load by local hour of day, 0..1 of peak: low at night, a morning ramp, a dip at lunch,
# a plateau in the afternoon. Shape after published diurnal LLM-serving curves (Splitwise, ISCA
# 2024, fig. 3; Mooncake, FAST 2025); tests check it correlates with Alibaba's GenAI QPS trace.
DIURNAL_LOAD = (
    0.18,
    0.14,
    0.12,
    0.11,
    0.12,
    0.16,
    0.26,
    0.45,
    0.70,
    0.88,
    0.96,
    0.95,
    0.72,
    0.80,
    0.97,
    1.00,
    0.96,
    0.88,
    0.72,
    0.58,
    0.46,
    0.36,
    0.28,
    0.22,
)
WEEKEND_LOAD_FACTOR = 0.45  # weekend traffic vs weekday for business-facing assistants
DAILY_LOAD_SIGMA = 0.08  # day-to-day variation (lognormal sigma)
SLOT_LOAD_SIGMA = 0.06  # 15-minute jitter (lognormal sigma)

# Karpenter timings. consolidateAfter values as EKS teams commonly set them for GPU pools.
PROVISION_LEAD_MIN = 3  # node launch to pod running (GPU AMIs boot slower than CPU ones)
REPROVISION_MIN = 4  # spot interruption to replacement pod running (2-minute notice + launch)

# Spot. Discount off on-demand by family: AWS quotes "up to 90 %"; SkyPilot's AWS catalog shows
# p5en at 26-29 % of on-demand and g4dn at 10-50 %. The demo takes mid values per family.
SPOT_PRICE_RATIO = {
    "g5": 0.38,
    "p4d": 0.42,
    "p4de": 0.42,
    "p5": 0.40,
    "p5en": 0.28,
    "g6": 0.40,
    "g6e": 0.40,
}
SPOT_PRICE_CHANGE_HOURS = 6  # spot prices move a few times a day
SPOT_PRICE_WALK_SIGMA = 0.04
# Interruptions per node-hour: the EC2 Spot Instance Advisor puts GPU families (p4d, g5 in busy
# regions) in its top ">20 % per month" band; 0.004/h (about 3 per node-month if a node lived
# that long) is the busy end of that band, so a week of short-lived nodes shows a handful.
SPOT_INTERRUPTIONS_PER_NODE_HOUR = 0.004
SPOT_FALLBACK_TO_ON_DEMAND = 0.5  # share of replacements that land on the on-demand fallback pool

# GPU behaviour per workload kind: util_pct at zero and at full per-replica load.
UTIL_AT_IDLE_LOAD = 4.0
UTIL_AT_FULL_LOAD = 78.0
TRAINING_UTIL_PCT = 92.0
NOTEBOOK_UTIL_PCT = 3.0
IDLE_GPU_FB_MIB = 250.0  # driver + CUDA context on an unused GPU
# Board power: idle watts and the rated TDP by GPU model (NVIDIA data sheets).
GPU_POWER_W = {
    "A10G": (60, 300),
    "A100": (55, 400),
    "H100": (70, 700),
    "H200": (75, 700),
    "L4": (16, 72),
}
GPU_TEMP_C = (32.0, 78.0)  # idle and full-load temperature

# LangFuse list prices (USD per 1M input, output tokens) that a team would configure for
# comparison with self-hosting: Amazon Bedrock on-demand prices for the same open models (2024).
LIST_PRICE_PER_1M = {
    "llama-3.1-8b-instruct": (0.22, 0.22),
    "llama-3.1-70b-instruct": (0.72, 0.72),
    "llama-3.1-405b-instruct": (2.40, 2.40),
    "mixtral-8x7b-instruct": (0.45, 0.70),
}
# Decode speed for latency: seconds per output token and per 1k input tokens (prefill).
DECODE_S_PER_TOKEN = 0.02
PREFILL_S_PER_1K_INPUT = 0.04
USERS_PER_TENANT = 400
REQUESTS_PER_SESSION = 6
