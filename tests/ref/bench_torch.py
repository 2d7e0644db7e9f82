#!/usr/bin/python3
"""PyTorch float32 training-step benchmark of the same Griffin model `griffin bench train` times.

    bench_torch.py [CONFIG.ini] [--preset tiny|small|2b] [--family griffin|hawk|transformer]
                   [--batch B] [--seq T] [--steps N] [--warmup N] [--threads N] [--json F]
    bench_torch.py ... --official REPO
    bench_torch.py --selfcheck

The options, defaults and random-token workload mirror `griffin bench train` (train/tools/bench.c):
preset "small", B = 8, T = 256, 5 timed steps after 1 warm-up step; with CONFIG.ini the
[model] section and [train] batch_size / seq_len are used (--batch / --seq override them).
A step is zero_grad + forward + soft-capped cross-entropy + backward + AdamW (torch.optim,
the multi-tensor path, decay on weight matrices only as in optim/adamw.c), all float32.

The model is the math of griffin_ref.py (the float64 reference used by the parity tests)
written the way one writes it for speed in PyTorch: batched matmuls, both RG-LRU gates in
one batched block-diagonal product, the causal conv as K shifted multiply-adds, local
attention as one [B, H*T, T] score matrix with a banded (window + document) mask, and the
RG-LRU recurrence as a Python loop over time (what the official RecurrentGemma PyTorch
code does in training). --selfcheck compares loss and every gradient with griffin_ref.py
on small models (griffin, hawk, transformer; packed documents, T > window).

--official REPO times the official RecurrentGemma PyTorch model instead
(recurrentgemma.torch.Griffin from a checkout of github.com/google-deepmind/recurrentgemma,
which this project does not ship): the same config, tokens and AdamW, its own forward with
the soft cap, cross-entropy in float32, gradient_checkpointing=False (its default, True,
recomputes every block). Its two small dependencies that Debian lacks are stood in for here:
jaxtyping (type annotations only) and the four einops patterns the model uses. The JSON says
implementation "official".
"""

import argparse
import configparser
import json
import math
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))

PRESETS = {  # model/config.c config_preset()
    "tiny": dict(vocab_size=512, width=64, mlp_width=192, num_heads=2, depth=3, window=32),
    "small": dict(vocab_size=8192, width=512, mlp_width=1536, num_heads=4, depth=8, window=256),
    "2b": dict(vocab_size=256000, width=2560, mlp_width=7680, num_heads=10, depth=26, window=2048),
}
RECURRENT, ATTENTION = 0, 1


def block_types(family, depth):
    """model/config.c config_finalize(): griffin = (rec, rec, attn) repeated."""
    if family == "griffin":
        return [ATTENTION if i % 3 == 2 else RECURRENT for i in range(depth)]
    if family == "hawk":
        return [RECURRENT] * depth
    if family == "transformer":
        return [ATTENTION] * depth
    raise SystemExit("bench_torch: unknown family '%s' (griffin, hawk, transformer)" % family)


def config_from_preset(name):
    if name not in PRESETS:
        raise SystemExit("bench_torch: unknown preset '%s' (tiny, small, 2b)" % name)
    c = dict(PRESETS[name], family="griffin", lru_width=0, soft_cap=30.0, embed_scale=1)
    return c, 8, 256


def config_from_ini(path):
    """[model] and [train] batch_size / seq_len of a griffin config (train/config/config_table.c
    defaults for missing keys)."""
    cp = configparser.ConfigParser(inline_comment_prefixes=(";", "#"), comment_prefixes=(";", "#"),
                                   interpolation=None, strict=False)
    if not cp.read(path):
        raise SystemExit("bench_torch: cannot read %s" % path)
    m = cp["model"] if cp.has_section("model") else {}
    t = cp["train"] if cp.has_section("train") else {}

    def get(sec, key, default, conv):
        return conv(sec[key].strip()) if key in sec else default

    def boolean(v):
        if v.lower() in ("true", "yes", "on", "1"):
            return 1
        if v.lower() in ("false", "no", "off", "0"):
            return 0
        raise SystemExit("bench_torch: '%s' is not a boolean" % v)

    c = dict(family=get(m, "family", "griffin", str), vocab_size=get(m, "vocab_size", 0, int),
             width=get(m, "width", 0, int), depth=get(m, "depth", 0, int),
             num_heads=get(m, "heads", 0, int), lru_width=get(m, "lru_width", 0, int),
             mlp_width=get(m, "mlp_width", 0, int), window=get(m, "window", 2048, int),
             soft_cap=get(m, "soft_cap", 30.0, float), embed_scale=get(m, "embed_scale", 1, boolean))
    return c, get(t, "batch_size", 8, int), get(t, "seq_len", 256, int)


def finalize(c):
    c["lru_width"] = c["lru_width"] or c["width"]
    c["block_types"] = block_types(c["family"], c["depth"])
    D, H = c["width"], c["num_heads"]
    if D % H or c["lru_width"] % H or (D // H) % 4:
        raise SystemExit("bench_torch: heads must divide width and lru_width, head dim a multiple of 4")
    return c


def attention_band(T, A):
    return min(A, T - 1) + 1


def flops_per_token(c, T):
    """model/griffin.c griffin_flops_per_token(): 6·in·out per matrix product (tied
    unembedding included) + 12·H·K per attended key; element-wise work not counted."""
    D, E, F, H = c["width"], c["lru_width"], c["mlp_width"], c["num_heads"]
    K = D / H
    per = 6.0 * D * c["vocab_size"]
    for kind in c["block_types"]:
        per += 6.0 * 3.0 * D * F
        if kind == RECURRENT:
            per += 6.0 * (3.0 * D * E + 2.0 * E * E / H)
        else:
            per += 6.0 * (2.0 * D * D + 2.0 * D * K) + 12.0 * H * K * attention_band(T, c["window"])
    return per


# ----------------------------------------------------------------------------------------
# The model, float32, vectorised. torch is imported after the thread count is set.

def build(torch):
    F = torch.nn.functional
    CONV_WIDTH, NORM_EPS, ROPE_BASE, LRU_C, SQRT_GRAD_EPS = 4, 1e-6, 10000.0, 8.0, 1e-6

    class ClippedSqrt(torch.autograd.Function):
        """sqrt(u); backward 1/sqrt(max(4u, 1e-6)) (derivative capped at 1000)."""

        @staticmethod
        def forward(ctx, u):
            ctx.save_for_backward(u)
            return torch.sqrt(u)

        @staticmethod
        def backward(ctx, g):
            (u,) = ctx.saved_tensors
            return g * torch.rsqrt(torch.clamp(4.0 * u, min=SQRT_GRAD_EPS))

    def rms_norm(x, scale):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + NORM_EPS) * (1.0 + scale)

    def gelu(x):
        return F.gelu(x, approximate="tanh")

    class Aux:
        """Per-batch tensors shared by every layer: resets, conv masks, RoPE, attention mask."""

        def __init__(self, cfg, segment_pos):
            B, T = segment_pos.shape
            start = segment_pos == 0
            self.plain = bool(start[:, 1:].sum() == 0) and bool(start[:, 0].all())
            self.reset = start.t().unsqueeze(-1)                       # [T,B,1]
            # conv: tap k (x_{t-k}) is kept iff no document starts in t-k+1 .. t
            self.conv_keep = [None] * CONV_WIDTH
            if not self.plain:
                cs = torch.cumsum(start.long(), dim=1)
                for k in range(1, min(CONV_WIDTH, T)):
                    keep = torch.ones(B, T)
                    keep[:, k:] = ((cs[:, k:] - cs[:, :-k]) == 0).to(torch.float32)
                    self.conv_keep[k] = keep.unsqueeze(-1)               # [B,T,1]
            # RoPE on the first hd/2 dims; theta in float64 like the reference
            if ATTENTION in cfg["block_types"]:
                hd = cfg["width"] // cfg["num_heads"]
                R = hd // 2
                i = torch.arange(R // 2, dtype=torch.float64)
                inv = ROPE_BASE ** (-2.0 * i / R)
                theta = segment_pos.to(torch.float64)[:, :, None] * inv   # [B,T,R/2]
                self.cos = torch.cos(theta).to(torch.float32).unsqueeze(1)  # [B,1,T,R/2]
                self.sin = torch.sin(theta).to(torch.float32).unsqueeze(1)
                t = torch.arange(T)
                band = (t[None, :] <= t[:, None]) & (t[:, None] - t[None, :] <= cfg["window"])
                sid = torch.cumsum(start.long(), dim=1)
                allowed = band[None] & (sid[:, :, None] == sid[:, None, :])     # [B,T,T]
                bias = torch.zeros(allowed.shape, dtype=torch.float32)
                self.att_bias = bias.masked_fill(~allowed, float("-inf")).unsqueeze(1)  # [B,1,T,T]

    def conv1d(x, w, b, aux):
        """Depthwise causal conv of width K as K shifted multiply-adds; x [B,T,L], w [K,L]."""
        T, K = x.shape[1], w.shape[0]
        xp = F.pad(x, (0, 0, K - 1, 0))                                    # zeros before t = 0
        out = torch.addcmul(b, x, w[K - 1])
        for k in range(1, K):
            tap = xp[:, K - 1 - k:K - 1 - k + T]                           # x_{t-k}
            if aux.conv_keep[k] is not None:
                tap = tap * aux.conv_keep[k]
            out = torch.addcmul(out, tap, w[K - 1 - k])
        return out

    def rg_lru(c, aux, a_param, gate_w, gate_b):
        """c [B,T,L]; gate_w [H,bw,2bw] = both gates' block-diagonal weights side by side."""
        B, T, L = c.shape
        H, bw, _ = gate_w.shape
        ch = c.transpose(0, 1).reshape(T * B, H, bw).transpose(0, 1)       # [H,TB,bw]
        g = torch.baddbmm(gate_b.unsqueeze(1), ch, gate_w)                 # [H,TB,2bw]
        g = torch.sigmoid(g).reshape(H, T, B, 2, bw).permute(3, 1, 2, 0, 4).reshape(2, T, B, L)
        gx, ga = g[0], g[1]
        cT = c.transpose(0, 1)                                             # [T,B,L]
        log_a = -LRU_C * ga * F.softplus(a_param)
        a = torch.exp(log_a)
        mult = ClippedSqrt.apply(1.0 - torch.exp(2.0 * log_a))
        mult = torch.where(aux.reset, torch.ones_like(mult), mult)
        a = torch.where(aux.reset, torch.zeros_like(a), a)
        x_in = (cT * gx * mult).unbind(0)   # unbind, not x[t]: one backward node, not T
        a = a.unbind(0)
        h = x_in[0]
        outs = [h]
        for t in range(1, T):                                              # the scan
            h = torch.addcmul(x_in[t], a[t], h)
            outs.append(h)
        return torch.stack(outs, dim=1)                                    # [B,T,L]

    def recurrent_block(h, aux, p, r):
        y = gelu(F.linear(h, p[r + "linear_y.weight"], p[r + "linear_y.bias"]))
        x = F.linear(h, p[r + "linear_x.weight"], p[r + "linear_x.bias"])
        x = conv1d(x, p[r + "conv_1d.w"], p[r + "conv_1d.b"], aux)
        gw = torch.cat([p[r + "rg_lru.input_gate.w"], p[r + "rg_lru.a_gate.w"]], dim=2)
        gb = torch.cat([p[r + "rg_lru.input_gate.b"], p[r + "rg_lru.a_gate.b"]], dim=1)
        o = rg_lru(x, aux, p[r + "rg_lru.a_param"], gw, gb)
        return F.linear(o * y, p[r + "linear_out.weight"], p[r + "linear_out.bias"])

    def rope(x, aux):
        """x [B,n,T,hd]: rotate pairs (i, i+R/2), i < R/2, of the first R = hd/2 dims."""
        R = x.shape[-1] // 2
        half = R // 2
        x1, x2, rest = x[..., :half], x[..., half:R], x[..., R:]
        return torch.cat([x1 * aux.cos - x2 * aux.sin, x2 * aux.cos + x1 * aux.sin, rest], dim=-1)

    def attention_block(h, aux, p, a, H):
        B, T, D = h.shape
        hd = D // H
        q = F.linear(h, p[a + "proj_q.weight"]).view(B, T, H, hd).transpose(1, 2)   # [B,H,T,hd]
        k = F.linear(h, p[a + "proj_k.weight"]).unsqueeze(1)                        # [B,1,T,hd]
        v = F.linear(h, p[a + "proj_v.weight"])                                     # [B,T,hd]
        q = rope(q, aux) * hd ** -0.5
        k = rope(k, aux)[:, 0]
        s = torch.bmm(q.reshape(B, H * T, hd), k.transpose(1, 2)).view(B, H, T, T)
        prob = torch.softmax(s + aux.att_bias, dim=-1)
        o = torch.bmm(prob.view(B, H * T, T), v).view(B, H, T, hd).transpose(1, 2).reshape(B, T, D)
        return F.linear(o, p[a + "proj_final.weight"], p[a + "proj_final.bias"])

    def mlp_block(n, p, m):
        w, b = p[m + "ffw_up.w"], p[m + "ffw_up.b"]
        gate = gelu(torch.addmm(b[0, 0, 0], n.reshape(-1, n.shape[-1]), w[0]))
        up = torch.addmm(b[1, 0, 0], n.reshape(-1, n.shape[-1]), w[1])
        return F.linear((gate * up).view(*n.shape[:-1], -1), p[m + "ffw_down.weight"],
                        p[m + "ffw_down.bias"])

    def embed_scale_value(D):
        import numpy as np
        bits = int(np.array([math.sqrt(D)], dtype="<f4").view("<u4")[0])
        bits = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
        return float(np.array([bits], dtype="<u4").view("<f4")[0])

    def loss_fn(cfg, p, tokens, segment_pos, targets):
        aux = Aux(cfg, segment_pos)
        table = p["embedder.input_embedding"]
        x = F.embedding(tokens, table)
        if cfg["embed_scale"]:
            x = x * embed_scale_value(cfg["width"])
        for i, kind in enumerate(cfg["block_types"]):
            pre = "blocks.%d." % i
            h = rms_norm(x, p[pre + "temporal_pre_norm.scale"])
            if kind == RECURRENT:
                t = recurrent_block(h, aux, p, pre + "recurrent_block.")
            else:
                t = attention_block(h, aux, p, pre + "attention_block.", cfg["num_heads"])
            r = t + x
            x = mlp_block(rms_norm(r, p[pre + "channel_pre_norm.scale"]), p, pre + "mlp_block.") + r
        z = F.linear(rms_norm(x, p["final_norm.scale"]), table)
        cap = float(cfg["soft_cap"])
        if cap:
            z = cap * torch.tanh(z / cap)
        return F.cross_entropy(z.view(-1, z.shape[-1]), targets.reshape(-1))

    return loss_fn


def make_params(torch, cfg, seed, perturb=0.0):
    """griffin_ref's official init (float64), cast to float32 leaves that require grad."""
    sys.path.insert(0, HERE)
    import griffin_ref
    gen = torch.Generator().manual_seed(seed)
    rcfg = dict(cfg)
    p64 = griffin_ref.init_params(rcfg, gen, perturb)
    p32 = {n: t.to(torch.float32).contiguous().requires_grad_(True) for n, t in p64.items()}
    return p64, p32


def optimizer(torch, p, lr=1e-4):
    """optim/adamw.c groups: decay on weight matrices (incl. conv and gate weights), not on
    the embedding, biases, norm scales or a_param."""
    decay, rest = [], []
    for name, t in p.items():
        leaf = name.split(".")[-1]
        is_weight = leaf in ("weight", "w") and name != "embedder.input_embedding"
        (decay if is_weight else rest).append(t)
    groups = [dict(params=decay, weight_decay=0.1), dict(params=rest, weight_decay=0.0)]
    try:
        return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.95), eps=1e-8, foreach=True)
    except TypeError:
        return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.95), eps=1e-8)


def sgemm_peak(torch, M, K, N):
    """Best of 4 of one M×K×N torch.mm and of 1024³, as train/tools/perf.c measures cblas_sgemm."""
    best = 0.0
    for (m, k, n) in ((M, K, N), (1024, 1024, 1024)):
        a = (torch.arange(m * k, dtype=torch.float32) % 7 * 0.1).view(m, k)
        b = (torch.arange(k * n, dtype=torch.float32) % 5 * 0.1).view(k, n)
        for _ in range(4):
            t0 = time.perf_counter()
            torch.mm(a, b)
            dt = time.perf_counter() - t0
            best = max(best, 2.0 * m * n * k / dt / 1e9)
    return best


# ----------------------------------------------------------------------------------------

def official_model(torch, repo, cfg):
    """recurrentgemma.torch.Griffin for cfg, imported from a checkout at repo without running
    the packages' __init__ files (they import JAX and the sampler's sentencepiece)."""
    import re
    import types
    import typing
    pkg = os.path.join(os.path.abspath(repo), "recurrentgemma")
    if not os.path.isfile(os.path.join(pkg, "torch", "griffin.py")):
        raise SystemExit("bench_torch: %s is not a recurrentgemma checkout (no recurrentgemma/torch/griffin.py)"
                         % repo)

    class _Sub:  # jaxtyping.Float[torch.Tensor, "..."] etc.: annotations only
        def __getitem__(self, key):
            return typing.Any
    jt = types.ModuleType("jaxtyping")
    jt.Float = jt.Integer = jt.Bool = jt.Int = _Sub()
    jt.jaxtyped = lambda f=None, **kw: f
    sys.modules.setdefault("jaxtyping", jt)

    def rearrange(x, pattern, **sizes):
        lhs, rhs = (p.split() for p in pattern.split("->"))
        if lhs[-1].endswith(")") and rhs[-1] != lhs[-1]:      # "... (a b) -> ... a b"
            a = lhs[-2].lstrip("(")
            return x.reshape(*x.shape[:-1], sizes[a], -1)
        if rhs[-1].endswith(")") and lhs[-1] != rhs[-1]:      # "... a b -> ... (a b)"
            return x.reshape(*x.shape[:-2], -1)
        raise NotImplementedError("einops stand-in: pattern %r" % pattern)

    def einsum(a, b, spec):
        ins, out = spec.split("->")
        return torch.einsum(",".join(re.sub(r"\s", "", t) for t in ins.split(",")) + "->" + re.sub(r"\s", "", out),
                            a, b)
    ein = types.ModuleType("einops")
    ein.rearrange, ein.einsum = rearrange, einsum
    sys.modules.setdefault("einops", ein)
    for name, path in (("recurrentgemma", pkg), ("recurrentgemma.torch", os.path.join(pkg, "torch"))):
        mod = types.ModuleType(name)   # packages without their __init__ (JAX, sentencepiece)
        mod.__path__ = [path]
        sys.modules[name] = mod
    import importlib
    common = importlib.import_module("recurrentgemma.common")
    griffin = importlib.import_module("recurrentgemma.torch.griffin")
    kinds = [common.TemporalBlockType.ATTENTION if k == ATTENTION else common.TemporalBlockType.RECURRENT
             for k in block_types(cfg["family"], cfg["depth"])]
    gc = common.GriffinConfig(vocab_size=cfg["vocab_size"], width=cfg["width"], mlp_expanded_width=cfg["mlp_width"],
                              num_heads=cfg["num_heads"], block_types=tuple(kinds),
                              embeddings_scale_by_sqrt_dim=bool(cfg["embed_scale"]),
                              attention_window_size=cfg["window"], logits_soft_cap=cfg["soft_cap"],
                              lru_width=cfg["lru_width"])
    model = griffin.Griffin(gc, gradient_checkpointing=False, dtype=torch.float32)
    model.reset_parameters()
    return model


def bench(args):
    if args.threads > 0:
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
    import torch
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    if args.config:
        cfg, B, T = config_from_ini(args.config)
        label = args.config
    else:
        cfg, B, T = config_from_preset(args.preset)
        label = args.preset
    if args.family:
        cfg["family"] = args.family
    cfg = finalize(cfg)
    B = args.batch or B
    T = args.seq or T
    if B < 1 or T < 2 or args.steps < 1 or args.warmup < 0:
        raise SystemExit("bench_torch: batch, seq and steps must be positive")
    torch.manual_seed(5)
    if args.official:
        model = official_model(torch, args.official, cfg)
        p = dict(model.named_parameters())

        def loss_fn(cfg_, p_, tokens_, pos_, targets_):
            logits, _ = model(tokens_, pos_, return_logits=True, return_cache=False)
            return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets_.reshape(-1))
    else:
        loss_fn = build(torch)
        _, p = make_params(torch, cfg, seed=1337)
    nparams = sum(t.numel() for t in p.values())
    tokens = torch.randint(cfg["vocab_size"], (B, T))
    targets = torch.randint(cfg["vocab_size"], (B, T))
    pos = torch.arange(T).expand(B, T).contiguous()
    opt = optimizer(torch, p)
    fwd, tot, losses = [], [], []
    for s in range(-args.warmup, args.steps):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(cfg, p, tokens, pos, targets)
        t1 = time.perf_counter()
        loss.backward()
        opt.step()
        t2 = time.perf_counter()
        losses.append(float(loss))
        if s >= 0:
            fwd.append(t1 - t0)
            tot.append(t2 - t0)
    N = B * T
    med, medf = statistics.median(tot), statistics.median(fwd)
    flops = flops_per_token(cfg, T)
    peak = sgemm_peak(torch, N, cfg["width"], cfg["mlp_width"])
    achieved = flops * N / med / 1e9
    threads = torch.get_num_threads()
    impl = "official RecurrentGemma, " if args.official else ""
    print("model        %s %s (%sPyTorch %s float32): D=%d E=%d F=%d H=%d L=%d A=%d V=%d, %d parameters"
          % (label, cfg["family"], impl, torch.__version__, cfg["width"], cfg["lru_width"], cfg["mlp_width"],
             cfg["num_heads"], cfg["depth"], cfg["window"], cfg["vocab_size"], nparams))
    print("batch        B=%d T=%d (%d tokens), %d threads, %d timed steps" % (B, T, N, threads, args.steps))
    print("forward      %.1f ms (median)" % (1e3 * medf))
    print("step         %.1f ms (median; forward+backward+AdamW)   %.0f tokens/s" % (1e3 * med, N / med))
    print("flops        %.1f MFLOP/token, %.1f GFLOP/s achieved; torch.mm peak here %.1f GFLOP/s; MFU %.1f%%"
          % (flops / 1e6, achieved, peak, 100.0 * achieved / peak))
    print("loss         %.4f first step, %.4f last" % (losses[0], losses[-1]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(model=label, family=cfg["family"], implementation="official" if args.official else "pytorch",
                           torch_version=torch.__version__, parameters=nparams, batch=B, seq=T,
                           threads=threads, steps=args.steps, warmup=args.warmup,
                           step_ms=1e3 * med, forward_ms=1e3 * medf, tokens_per_s=N / med,
                           step_ms_all=[1e3 * x for x in tot], mflop_per_token=flops / 1e6,
                           gflops=achieved, sgemm_peak_gflops=peak, mfu=achieved / peak,
                           loss_first=losses[0], loss_last=losses[-1]), f)
            f.write("\n")
        print("wrote %s" % args.json)


def selfcheck():
    """Loss and every gradient of the float32 model against griffin_ref (float64)."""
    import torch
    sys.path.insert(0, HERE)
    import griffin_ref
    loss_fn = build(torch)
    worst = 0.0
    ok = True
    cases = [
        ("griffin, packed docs, lru != width, T > window", "griffin", 3, 16, 2, 24, 5, 30.0, True),
        ("griffin, plain rows", "griffin", 6, 32, 4, 32, 8, 30.0, False),
        ("hawk, packed docs", "hawk", 2, 16, 2, 16, 4, 0.0, True),
        ("transformer, packed docs", "transformer", 2, 16, 4, 16, 6, 30.0, True),
    ]
    for title, family, depth, D, H, E, window, cap, packed in cases:
        cfg = finalize(dict(family=family, vocab_size=97, width=D, depth=depth, num_heads=H,
                            lru_width=E, mlp_width=3 * D, window=window, soft_cap=cap, embed_scale=1))
        B, T = 2, 19
        g = torch.Generator().manual_seed(7)
        tokens = torch.randint(cfg["vocab_size"], (B, T), generator=g)
        targets = torch.randint(cfg["vocab_size"], (B, T), generator=g)
        if packed:   # documents of lengths 5, 9, 5 / a continuation row with a start at 7
            pos = torch.tensor([list(range(5)) + list(range(9)) + list(range(5)),
                                list(range(3, 10)) + list(range(12))])
        else:
            pos = torch.arange(T).expand(B, T).contiguous()
        p64, p32 = make_params(torch, cfg, seed=3, perturb=0.1)
        for t in p64.values():
            t.requires_grad_(True)
        ref = griffin_ref.GriffinRef(cfg, p64)
        lr, _ = ref.loss(tokens, pos, targets, torch.ones(B, T))
        lr.backward()
        l32 = loss_fn(cfg, p32, tokens, pos, targets)
        l32.backward()
        rel_loss = abs(float(l32) - float(lr)) / abs(float(lr))
        gworst, gname = 0.0, ""
        for n, t in p64.items():
            d = float((p32[n].grad.double() - t.grad).abs().max()) / max(float(t.grad.abs().max()), 1e-30)
            if d > gworst:
                gworst, gname = d, n
        good = rel_loss < 1e-4 and gworst < 1e-3
        ok &= good
        worst = max(worst, rel_loss)
        print("%-50s loss %.6f vs ref %.6f  rel %.1e   worst gradient %.1e (%s)  %s"
              % (title, float(l32), float(lr), rel_loss, gworst, gname, "ok" if good else "FAIL"))
    print("selfcheck %s (tolerance: loss 1e-4 relative, gradients 1e-3 of the tensor's max)"
          % ("passed" if ok else "FAILED"))
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("config", nargs="?", help="griffin config .ini (default: --preset)")
    ap.add_argument("--preset", default="small", help="tiny, small, 2b (without CONFIG)")
    ap.add_argument("--family", help="griffin, hawk, transformer (overrides the config)")
    ap.add_argument("--batch", type=int, default=0)
    ap.add_argument("--seq", type=int, default=0)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--json")
    ap.add_argument("--official", metavar="REPO", help="time the official recurrentgemma.torch model of a checkout")
    ap.add_argument("--selfcheck", action="store_true", help="compare with griffin_ref.py and exit")
    args = ap.parse_args()
    if args.selfcheck:
        return selfcheck()
    bench(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
