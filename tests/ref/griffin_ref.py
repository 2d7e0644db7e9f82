"""Independent float64 PyTorch reference of the Griffin / RecurrentGemma model.

Written from docs/architecture.md alone (section numbers below refer to it), not
from the C code in model/. It exists to check the C implementation: forward, loss and,
through autograd, every parameter gradient.

Config dict (the "config" object of a griffin-dump, see check_parity.py):
    vocab_size V, width D, lru_width L, mlp_width E, num_heads H, depth N, window W,
    soft_cap (float, 0 = off), embed_scale (0/1), block_types (list of N ints:
    0 = recurrent, 1 = attention). "family" is informational only.

Optional LoRA adapters (the adapter issue's math, not the C code): config key "lora" =
{"rank": r, "alpha": alpha, "targets": [official linear names]}. A targeted linear
W [NO, NI] computes y = x W^T + b + (alpha / r) (x A^T) B^T with A [r, NI] and B [NO, r],
named <linear stem>.lora_A.weight / .lora_B.weight (e.g. blocks.0.attention_block.proj_q.
lora_A.weight); ffw_up (stored [2, D, E], in x out) has one pair per branch, A [2, r, D],
B [2, E, r]. The adapters are applied unmerged, so autograd gives dA and dB directly.

Parameters: a dict of official torch state_dict names (section 15.1) -> tensors, with
exactly the shapes of section 15.1 (and the adapters' above). Sequential Python loops are used on purpose: sizes
are tiny and loops mirror the equations one to one.
"""

import math

import numpy as np
import torch

RECURRENT, ATTENTION = 0, 1
CONV_WIDTH = 4          # K, section 7.1 (fixed, not in the config)
NORM_EPS = 1e-6         # section 4
ROPE_BASE = 10000.0     # section 8
LRU_C = 8.0             # section 7.2
SQRT_GRAD_EPS = 1e-6    # clip of the sqrt(1 - a^2) derivative, section 7.2
MIN_RAD, MAX_RAD = 0.9, 0.999


# ----------------------------------------------------------------------------------------
# Config and parameter table (sections 1, 13, 15.1)

def dims(cfg):
    """Derived sizes: (V, D, L, E, H, hd, bw, N)."""
    V, D, E, H = cfg["vocab_size"], cfg["width"], cfg["mlp_width"], cfg["num_heads"]
    L = cfg.get("lru_width") or D
    N = len(cfg["block_types"])
    if "depth" in cfg and cfg["depth"] != N:
        raise ValueError("depth %d != len(block_types) %d" % (cfg["depth"], N))
    if D % H or L % H:
        raise ValueError("num_heads %d must divide width %d and lru_width %d" % (H, D, L))
    return V, D, L, E, H, D // H, L // H, N


def param_shapes(cfg):
    """Ordered list of (official name, shape) for every parameter (section 15.1)."""
    V, D, L, E, H, hd, bw, N = dims(cfg)
    K = CONV_WIDTH
    out = [("embedder.input_embedding", (V, D))]
    for i, kind in enumerate(cfg["block_types"]):
        p = "blocks.%d." % i
        out.append((p + "temporal_pre_norm.scale", (D,)))
        if kind == RECURRENT:
            r = p + "recurrent_block."
            out += [
                (r + "linear_y.weight", (L, D)), (r + "linear_y.bias", (L,)),
                (r + "linear_x.weight", (L, D)), (r + "linear_x.bias", (L,)),
                (r + "linear_out.weight", (D, L)), (r + "linear_out.bias", (D,)),
                (r + "conv_1d.w", (K, L)), (r + "conv_1d.b", (L,)),
                (r + "rg_lru.a_param", (L,)),
                (r + "rg_lru.input_gate.w", (H, bw, bw)), (r + "rg_lru.input_gate.b", (H, bw)),
                (r + "rg_lru.a_gate.w", (H, bw, bw)), (r + "rg_lru.a_gate.b", (H, bw)),
            ]
        elif kind == ATTENTION:
            a = p + "attention_block."
            out += [
                (a + "proj_q.weight", (D, D)), (a + "proj_k.weight", (hd, D)),
                (a + "proj_v.weight", (hd, D)),
                (a + "proj_final.weight", (D, D)), (a + "proj_final.bias", (D,)),
            ]
        else:
            raise ValueError("block_types[%d] = %r (want 0 or 1)" % (i, kind))
        m = p + "mlp_block."
        out += [
            (p + "channel_pre_norm.scale", (D,)),
            (m + "ffw_up.w", (2, D, E)), (m + "ffw_up.b", (2, 1, 1, E)),
            (m + "ffw_down.weight", (D, E)), (m + "ffw_down.bias", (D,)),
        ]
    out.append(("final_norm.scale", (D,)))
    return out + lora_shapes(cfg, out)


LORA_TARGETS = ("proj_q", "proj_k", "proj_v", "proj_final",
                "linear_x", "linear_y", "linear_out", "ffw_up", "ffw_down")


def lora_settings(cfg):
    """(rank, scale alpha/rank, set of target names), or (0, 0.0, empty) without adapters."""
    lo = cfg.get("lora")
    if not lo or not lo.get("rank"):
        return 0, 0.0, frozenset()
    r = int(lo["rank"])
    targets = frozenset(lo.get("targets", LORA_TARGETS))
    unknown = sorted(targets - set(LORA_TARGETS))
    if unknown:
        raise ValueError("lora targets %s are not linear layers (%s)" % (unknown, LORA_TARGETS))
    return r, float(lo["alpha"]) / r, targets


def lora_shapes(cfg, base):
    """The adapters' (name, shape) for the base table `base`: one A/B pair per targeted
    linear, the A after the B of the previous one, in the base's order."""
    r, _, targets = lora_settings(cfg)
    out = []
    if not r:
        return out
    for name, shape in base:
        parts = name.split(".")
        if len(parts) < 4 or parts[-2] not in targets:
            continue
        stem = ".".join(parts[:-1])
        if parts[-2] == "ffw_up" and parts[-1] == "w":            # [2, D, E] stored in x out
            out += [(stem + ".lora_A.weight", (2, r, shape[1])),
                    (stem + ".lora_B.weight", (2, shape[2], r))]
        elif parts[-1] == "weight":                                # torch Linear [NO, NI]
            out += [(stem + ".lora_A.weight", (r, shape[1])),
                    (stem + ".lora_B.weight", (shape[0], r))]
    return out


def init_params(cfg, gen, perturb=0.0):
    """Official torch init of section 13 (float64). With perturb > 0, every tensor that
    the init sets to zero (norm scales, biases) gets normal noise of std `perturb`
    instead, so that the tests exercise them."""
    V, D, L, E, H, hd, bw, N = dims(cfg)
    K = CONV_WIDTH

    def normal(shape, std):
        return torch.randn(shape, generator=gen, dtype=torch.float64) * std

    def zero(shape):
        return normal(shape, perturb) if perturb > 0 else torch.zeros(shape, dtype=torch.float64)

    def a_param_init(n):
        # section 7.2: u ~ U[min^2 + 1e-8, max^2 + 1e-8], rho = log(u)/2, inverse softplus.
        lo, hi = MIN_RAD ** 2 + 1e-8, MAX_RAD ** 2 + 1e-8
        u = lo + (hi - lo) * torch.rand(n, generator=gen, dtype=torch.float64)
        rho = 0.5 * torch.log(u)
        return torch.log(torch.expm1(-rho))

    std_final = {"linear_out.weight": math.sqrt(2.0 / N / L),
                 "proj_final.weight": math.sqrt(2.0 / N / D),
                 "ffw_down.weight": math.sqrt(2.0 / N / E)}
    params = {}
    for name, shape in param_shapes(cfg):
        short = ".".join(name.split(".")[-2:])       # e.g. "rg_lru.a_param", "ffw_up.b"
        if short == "lora_A.weight":                  # PEFT: kaiming_uniform(a=sqrt(5)) = U(+-1/sqrt(NI))
            bound = 1.0 / math.sqrt(shape[-1])
            t = (2.0 * torch.rand(shape, generator=gen, dtype=torch.float64) - 1.0) * bound
        elif short == "lora_B.weight":                # zero: the adapted model starts as the base
            t = zero(shape)
        elif name == "embedder.input_embedding":
            t = normal(shape, math.sqrt(1.0 / D))
        elif short.endswith("scale") or short.split(".")[-1] in ("bias", "b"):
            t = zero(shape)
        elif short in std_final:
            t = normal(shape, std_final[short])
        elif short == "conv_1d.w":
            t = normal(shape, math.sqrt(0.01 / K))
        elif short in ("input_gate.w", "a_gate.w"):
            t = normal(shape, math.sqrt(1.0 / bw))
        elif short == "rg_lru.a_param":
            t = a_param_init(shape[0])
        elif short in ("linear_x.weight", "linear_y.weight", "proj_q.weight",
                       "proj_k.weight", "proj_v.weight", "ffw_up.w"):
            t = normal(shape, math.sqrt(1.0 / D))
        else:
            raise AssertionError("no init rule for " + name)
        params[name] = t
    return params


# ----------------------------------------------------------------------------------------
# Small pieces

def bf16_round(x):
    """Round a float32 value to bfloat16, nearest-even (section 3). Returns a Python
    float. Done on the bits, independent of torch's own bfloat16 cast."""
    bits = int(np.array([x], dtype="<f4").view("<u4")[0])
    bits = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
    return float(np.array([bits], dtype="<u4").view("<f4")[0])


def embed_scale_value(D):
    """s = bf16(float32(sqrt(D))), section 3."""
    return bf16_round(float(np.float32(math.sqrt(D))))


def gelu_tanh(x):
    """GeLU, tanh approximation (section 6)."""
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def rms_norm(x, scale):
    """y = x * rsqrt(mean(x^2) + 1e-6) * (1 + scale), section 4."""
    return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + NORM_EPS) * (1.0 + scale)


def linear(x, weight, bias=None):
    """torch-convention Linear: weight [out, in], y = x W^T + b."""
    y = x @ weight.t()
    return y if bias is None else y + bias


def adapted_linear(x, p, stem, bias=True):
    """linear(x, p[stem.weight], p[stem.bias]) plus, when the config puts an adapter on it
    (p holds stem.lora_A.weight), (alpha / r) (x A^T) B^T. The scale rides in p["lora.scale"]."""
    y = linear(x, p[stem + ".weight"], p[stem + ".bias"] if bias else None)
    a = p.get(stem + ".lora_A.weight")
    if a is None:
        return y
    return y + p["lora.scale"] * ((x @ a.t()) @ p[stem + ".lora_B.weight"].t())


class ClippedSqrt(torch.autograd.Function):
    """m = sqrt(u) in forward; backward uses dm/du = 1 / sqrt(max(4u, 1e-6)), i.e. the
    derivative is capped at 1000 (section 7.2, pitfall 10)."""

    @staticmethod
    def forward(ctx, u):
        ctx.save_for_backward(u)
        return torch.sqrt(u)

    @staticmethod
    def backward(ctx, grad):
        (u,) = ctx.saved_tensors
        return grad / torch.sqrt(torch.clamp(4.0 * u, min=SQRT_GRAD_EPS))


clipped_sqrt = ClippedSqrt.apply


# ----------------------------------------------------------------------------------------
# Recurrent block (section 7)

def conv1d(x, w, b, segment_pos):
    """Depthwise causal conv, width K, document-masked (section 7.1).
    x [B,T,L], w [K,L], b [L]. c_t = b + sum_k w[K-1-k] * x_{t-k} * m(t,k), where
    m(t,k) = 1 iff t-k >= 0 and no position in t-k+1 .. t has segment_pos == 0."""
    B, T, L = x.shape
    K = w.shape[0]
    start = segment_pos == 0                                   # [B,T]
    rows = []
    for t in range(T):
        acc = b.expand(B, L)
        for k in range(K):
            if t - k < 0:
                break
            if k > 0:
                crossed = start[:, t - k + 1:t + 1].any(dim=1)  # a document starts in between
                keep = (~crossed).to(x.dtype).unsqueeze(-1)      # [B,1]
            else:
                keep = 1.0
            acc = acc + w[K - 1 - k] * x[:, t - k] * keep
        rows.append(acc)
    return torch.stack(rows, dim=1)


def block_diag_linear(x, w, b):
    """x [B,T,L] split in H contiguous blocks of bw; y_h = x_h w[h] + b[h], w [H,bw,bw]
    stored (in, out), b [H,bw] (section 7.2)."""
    B, T, L = x.shape
    H, bw, _ = w.shape
    xh = x.reshape(B, T, H, bw)
    y = torch.einsum("bthi,hio->btho", xh, w) + b
    return y.reshape(B, T, L)


def rg_lru(c, segment_pos, a_param, wx, bx, wa, ba):
    """RG-LRU (section 7.2). c [B,T,L] (the conv output); returns h [B,T,L]."""
    B, T, L = c.shape
    gx = torch.sigmoid(block_diag_linear(c, wx, bx))
    ga = torch.sigmoid(block_diag_linear(c, wa, ba))
    log_a = -LRU_C * ga * torch.nn.functional.softplus(a_param)   # torch default softplus
    a = torch.exp(log_a)
    a2 = torch.exp(2.0 * log_a)
    reset = (segment_pos == 0).unsqueeze(-1)                       # [B,T,1]
    m = torch.where(reset, torch.ones_like(a2), clipped_sqrt(1.0 - a2))
    x_in = c * gx * m
    a_bar = torch.where(reset, torch.zeros_like(a), a)
    h = torch.zeros(B, L, dtype=c.dtype)
    outs = []
    for t in range(T):
        h = a_bar[:, t] * h + x_in[:, t]
        outs.append(h)
    return torch.stack(outs, dim=1)


def recurrent_block(h, segment_pos, p, prefix):
    """Section 7: out = linear_out(RG-LRU(Conv1D(linear_x(h))) * gelu(linear_y(h)))."""
    g = lambda n: p[prefix + n]
    y_br = gelu_tanh(adapted_linear(h, p, prefix + "linear_y"))
    x_br = adapted_linear(h, p, prefix + "linear_x")
    c = conv1d(x_br, g("conv_1d.w"), g("conv_1d.b"), segment_pos)
    o = rg_lru(c, segment_pos, g("rg_lru.a_param"),
               g("rg_lru.input_gate.w"), g("rg_lru.input_gate.b"),
               g("rg_lru.a_gate.w"), g("rg_lru.a_gate.b"))
    return adapted_linear(o * y_br, p, prefix + "linear_out")


# ----------------------------------------------------------------------------------------
# Local attention block (section 8)

def segment_ids(segment_pos):
    """sid = cumsum over the row of [segment_pos == 0]; a continuation row starts in 0."""
    return torch.cumsum((segment_pos == 0).long(), dim=1)


def rope(x, pos):
    """Partial rotate-half RoPE on the first hd/2 dims (section 8).
    x [B,T,n,hd], pos [B,T]. R = hd/2; pairs (i, i+R/2) for i < R/2;
    theta_i = pos * 10000^(-2i/R)."""
    hd = x.shape[-1]
    R = hd // 2
    half = R // 2
    i = torch.arange(half, dtype=torch.float64)
    inv_freq = ROPE_BASE ** (-2.0 * i / R)                          # [R/2]
    theta = pos.to(torch.float64)[:, :, None, None] * inv_freq     # [B,T,1,R/2]
    cos, sin = torch.cos(theta), torch.sin(theta)
    x1, x2, rest = x[..., :half], x[..., half:R], x[..., R:]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin, rest], dim=-1)


def attention_mask(segment_pos, window):
    """allowed[b,t,tau] iff tau <= t, t - tau <= W and sid_t == sid_tau (W+1 keys)."""
    B, T = segment_pos.shape
    t = torch.arange(T)[:, None]
    tau = torch.arange(T)[None, :]
    causal = (tau <= t) & (t - tau <= window)                      # [T,T]
    sid = segment_ids(segment_pos)
    same = sid[:, :, None] == sid[:, None, :]                      # [B,T,T]
    return causal[None] & same


def attention_block(h, segment_pos, p, prefix, cfg):
    """Section 8: MQA (one K/V head), RoPE, sliding window W+1, segment mask."""
    B, T, D = h.shape
    H = cfg["num_heads"]
    hd = D // H
    q = adapted_linear(h, p, prefix + "proj_q", bias=False).reshape(B, T, H, hd)
    k = adapted_linear(h, p, prefix + "proj_k", bias=False).reshape(B, T, 1, hd)
    v = adapted_linear(h, p, prefix + "proj_v", bias=False)        # [B,T,hd]
    q, k = rope(q, segment_pos), rope(k, segment_pos)[:, :, 0]     # k [B,T,hd]
    s = torch.einsum("btnd,bsd->bnts", q, k) * hd ** -0.5           # [B,H,T,T]
    allowed = attention_mask(segment_pos, cfg["window"])[:, None]   # [B,1,T,T]
    s = s.masked_fill(~allowed, float("-inf"))
    prob = torch.softmax(s, dim=-1)
    o = torch.einsum("bnts,bsd->btnd", prob, v).reshape(B, T, D)
    return adapted_linear(o, p, prefix + "proj_final")


# ----------------------------------------------------------------------------------------
# MLP, residual block, model (sections 2, 3, 5, 6)

def mlp_block(n, p, prefix):
    """Section 6: ffw_down(gelu(n w[0] + b[0]) * (n w[1] + b[1]))."""
    w, b = p[prefix + "ffw_up.w"], p[prefix + "ffw_up.b"]
    branch = [n @ w[i] + b[i, 0, 0] for i in range(2)]
    a = p.get(prefix + "ffw_up.lora_A.weight")
    if a is not None:                                  # one adapter pair per branch
        bb = p[prefix + "ffw_up.lora_B.weight"]
        branch = [branch[i] + p["lora.scale"] * ((n @ a[i].t()) @ bb[i].t()) for i in range(2)]
    gate, up = gelu_tanh(branch[0]), branch[1]
    return adapted_linear(gate * up, p, prefix + "ffw_down")


def residual_block(x, segment_pos, p, i, cfg):
    """Section 5: r = Temporal(norm_t(x)) + x; out = MLP(norm_c(r)) + r."""
    pre = "blocks.%d." % i
    h = rms_norm(x, p[pre + "temporal_pre_norm.scale"])
    if cfg["block_types"][i] == RECURRENT:
        t = recurrent_block(h, segment_pos, p, pre + "recurrent_block.")
    else:
        t = attention_block(h, segment_pos, p, pre + "attention_block.", cfg)
    r = t + x
    return mlp_block(rms_norm(r, p[pre + "channel_pre_norm.scale"]), p, pre + "mlp_block.") + r


def forward(cfg, params, tokens, segment_pos):
    """Soft-capped logits [B,T,V] from tokens [B,T] and segment_pos [B,T] (section 2)."""
    tokens = torch.as_tensor(tokens, dtype=torch.long)
    segment_pos = torch.as_tensor(segment_pos, dtype=torch.long)
    params = dict(params, **{"lora.scale": lora_settings(cfg)[1]})
    table = params["embedder.input_embedding"]
    D = table.shape[1]
    x = table[tokens]
    if cfg["embed_scale"]:
        x = x * embed_scale_value(D)
    for i in range(len(cfg["block_types"])):
        x = residual_block(x, segment_pos, params, i, cfg)
    y = rms_norm(x, params["final_norm.scale"])
    z = y @ table.t()                                  # tied, unscaled unembedding
    cap = float(cfg["soft_cap"])
    return cap * torch.tanh(z / cap) if cap != 0.0 else z


def loss_fn(logits, targets, loss_mask):
    """Section 12, plain mean: sum_t mask_t * CE(logits_t, target_t) / sum_t mask_t.
    Targets under mask 0 are ignored (they may be out of range). With no unmasked
    target the loss is defined as 0."""
    targets = torch.as_tensor(targets, dtype=torch.long)
    mask = torch.as_tensor(loss_mask).to(torch.bool)
    safe = torch.where(mask, targets, torch.zeros_like(targets))
    logp = torch.log_softmax(logits, dim=-1)
    nll = -logp.gather(-1, safe.unsqueeze(-1)).squeeze(-1)          # [B,T]
    nll = torch.where(mask, nll, torch.zeros_like(nll))
    count = int(mask.sum())
    return nll.sum() / max(count, 1)


class GriffinRef:
    """Convenience wrapper: holds a config and a parameter dict."""

    def __init__(self, cfg, params):
        self.cfg = cfg
        dims(cfg)
        want = dict(param_shapes(cfg))
        missing = sorted(set(want) - set(params))
        extra = sorted(set(params) - set(want))
        if missing or extra:
            raise KeyError("parameter names differ: missing %s, unexpected %s" % (missing, extra))
        for name, shape in want.items():
            if tuple(params[name].shape) != tuple(shape):
                raise ValueError("%s has shape %s, want %s"
                                 % (name, tuple(params[name].shape), tuple(shape)))
        self.params = params

    def logits(self, tokens, segment_pos):
        return forward(self.cfg, self.params, tokens, segment_pos)

    def loss(self, tokens, segment_pos, targets, loss_mask):
        logits = self.logits(tokens, segment_pos)
        return loss_fn(logits, targets, loss_mask), logits
