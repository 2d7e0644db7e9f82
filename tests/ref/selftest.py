#!/usr/bin/python3
"""Self-test of the float64 reference (griffin_ref.py) and of the parity checker.

usage: /usr/bin/python3 tests/ref/selftest.py      (exits non-zero on any failure)

Checks, each against a fact of docs/architecture.md rather than against the code itself:
  1. bf16(sqrt(D)) embedding scales listed in section 3.
  2. ClippedSqrt: forward is sqrt(u); backward is 1/sqrt(max(4u, 1e-6)) (section 7.2),
     equal to the true derivative where the clip is inactive (gradcheck there).
  3. The clip is on the model's path: with a_param = -20 channels (1 - a^2 ~ 2e-8) the
     a_param gradient differs from the one of an unclipped sqrt.
  4. torch.autograd.gradcheck of the whole model (loss and a random projection of the
     logits) on tiny configs with packed documents, a continuation row, L != D, T > W.
  5. Conv1D tap order against torch's grouped conv1d with the HF layout (section 15.3).
  6. Document packing: a document's logits do not depend on the documents packed
     before it (RG-LRU reset, conv masking, segment mask, RoPE restart; section 11).
  7. Causality, and the inclusive attention window: in a one-layer attention model the
     token at tau influences query t iff 0 <= t - tau <= W (W+1 keys, section 8).
  8. Checker round trip: make_dump -> check_parity passes (exit 0); a perturbed gradient
     fails (exit 1); a missing gradient is an error (exit 2).
"""

import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import griffin_ref as R  # noqa: E402

FAILURES = []


def check(ok, what):
    print("%-4s %s" % ("ok" if ok else "FAIL", what))
    if not ok:
        FAILURES.append(what)


def tiny_cfg(family="griffin", V=11, D=8, L=12, H=2, E=16, depth=3, W=3, cap=3.0, emb=1):
    bt = {"griffin": [1 if i % 3 == 2 else 0 for i in range(depth)],
          "hawk": [0] * depth, "transformer": [1] * depth}[family]
    return {"family": family, "vocab_size": V, "width": D, "lru_width": L, "mlp_width": E,
            "num_heads": H, "depth": depth, "window": W, "soft_cap": cap,
            "embed_scale": emb, "block_types": bt}


def packed_inputs(B, T, V, seed):
    """Row 0: documents of lengths 4, 1, rest; row 1 continues a document (starts at 5)."""
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(0, V, (B, T), generator=g)
    targets = torch.randint(0, V, (B, T), generator=g)
    mask = torch.rand((B, T), generator=g) < 0.7
    mask[0, 0] = True
    rows = []
    for b in range(B):
        starts = {0, 4, 5} if b % 2 == 0 else {6}
        p = 0 if b % 2 == 0 else 5
        row = []
        for t in range(T):
            if t in starts:
                p = 0
            row.append(p)
            p += 1
        rows.append(row)
    return tokens, torch.tensor(rows), targets, mask


# ----------------------------------------------------------------------------------------

def test_embed_scale():
    want = {64: 8.0, 96: 9.8125, 256: 16.0, 512: 22.625, 1024: 32.0, 2048: 45.25,
            2560: 50.5, 4096: 64.0}
    got = {D: R.embed_scale_value(D) for D in want}
    check(got == want, "bf16(sqrt(D)) embedding scales %s" % got)


def test_clipped_sqrt():
    u = torch.cat([torch.logspace(-12, 0, 200, dtype=torch.float64),
                   torch.tensor([2.5e-7, 2.4e-7, 2.6e-7], dtype=torch.float64)])
    u.requires_grad_(True)
    m = R.clipped_sqrt(u)
    (g,) = torch.autograd.grad(m.sum(), u)
    want = 1.0 / torch.sqrt(torch.clamp(4.0 * u.detach(), min=1e-6))
    check(torch.equal(m.detach(), torch.sqrt(u.detach())), "ClippedSqrt forward == sqrt")
    check(torch.allclose(g, want, rtol=1e-15, atol=0), "ClippedSqrt backward == 1/sqrt(max(4u,1e-6))")
    check(float(g.max()) == 1000.0, "ClippedSqrt derivative capped at 1000 (max %g)" % float(g.max()))
    free = torch.linspace(1e-3, 1.0, 50, dtype=torch.float64).requires_grad_(True)
    check(torch.autograd.gradcheck(R.clipped_sqrt, (free,), raise_exception=False),
          "ClippedSqrt gradcheck where the clip is inactive (u >= 1e-3)")


def test_clip_on_path():
    cfg = tiny_cfg("hawk", depth=1)
    p = R.init_params(cfg, torch.Generator().manual_seed(3), perturb=0.1)
    p["blocks.0.recurrent_block.rg_lru.a_param"][:3] = -20.0
    tokens, segpos, targets, mask = packed_inputs(2, 9, cfg["vocab_size"], 3)

    def a_param_grad():
        q = {n: t.clone().requires_grad_(True) for n, t in p.items()}
        loss, _ = R.GriffinRef(cfg, q).loss(tokens, segpos, targets, mask)
        loss.backward()
        return q["blocks.0.recurrent_block.rg_lru.a_param"].grad

    clipped = a_param_grad()
    saved = R.clipped_sqrt
    R.clipped_sqrt = torch.sqrt
    try:
        plain = a_param_grad()
    finally:
        R.clipped_sqrt = saved
    d = (clipped - plain).abs()
    check(float(d[:3].max()) > 1e-3 * float(clipped[:3].abs().max()) and float(d[3:].max()) < 1e-15,
          "clip changes the a_param grad exactly on the clipped channels (diff %.2e / %.2e)"
          % (float(d[:3].max()), float(d[3:].max())))


def test_gradcheck(family, **kw):
    cfg = tiny_cfg(family, **kw)
    p = R.init_params(cfg, torch.Generator().manual_seed(7), perturb=0.2)
    names = [n for n, _ in R.param_shapes(cfg)]
    B, T = 2, 9
    tokens, segpos, targets, mask = packed_inputs(B, T, cfg["vocab_size"], 7)
    proj = torch.randn((B, T, cfg["vocab_size"]), generator=torch.Generator().manual_seed(8),
                       dtype=torch.float64)

    def f(*tensors):
        params = dict(zip(names, tensors))
        logits = R.forward(cfg, params, tokens, segpos)
        return R.loss_fn(logits, targets, mask), (logits * proj).sum()

    inputs = tuple(p[n].clone().requires_grad_(True) for n in names)
    ok = torch.autograd.gradcheck(f, inputs, eps=1e-6, atol=1e-7, rtol=1e-5, raise_exception=False)
    check(ok, "gradcheck whole model: %s blocks %s, D=%d L=%d T=%d > W=%d, cap %g, %d params"
          % (family, cfg["block_types"], cfg["width"], cfg["lru_width"], T, cfg["window"],
             cfg["soft_cap"], sum(t.numel() for t in inputs)))


def test_lora():
    """Adapters (section: the LoRA issue's math): B = 0 gives the base bitwise; the unmerged
    adapters equal the merged weight W + (alpha/r) B A; gradcheck through them."""
    base = tiny_cfg("griffin", depth=3)
    cfg = dict(base, lora={"rank": 2, "alpha": 3.0, "targets": list(R.LORA_TARGETS)})
    p = R.init_params(cfg, torch.Generator().manual_seed(11))      # B = 0 here
    tokens, segpos, targets, mask = packed_inputs(2, 9, cfg["vocab_size"], 11)
    plain = {n: p[n] for n, _ in R.param_shapes(base)}
    check(torch.equal(R.forward(cfg, p, tokens, segpos), R.forward(base, plain, tokens, segpos)),
          "lora: B = 0 gives the base model's logits bitwise")
    g = torch.Generator().manual_seed(12)
    for n, _ in R.param_shapes(cfg):
        if n.endswith("lora_B.weight"):
            p[n] = 0.3 * torch.randn(p[n].shape, generator=g, dtype=torch.float64)
    s = 3.0 / 2
    merged = dict(plain)
    for n, _ in R.lora_shapes(cfg, R.param_shapes(base)):
        if not n.endswith("lora_A.weight"):
            continue
        stem = n[:-len(".lora_A.weight")]
        a, b = p[n], p[stem + ".lora_B.weight"]
        if stem.endswith("ffw_up"):                 # [2, D, E] in x out: W_i += s (B_i A_i)^T
            merged[stem + ".w"] = p[stem + ".w"] + s * torch.stack([(b[i] @ a[i]).t() for i in range(2)])
        else:
            merged[stem + ".weight"] = p[stem + ".weight"] + s * (b @ a)
    diff = (R.forward(cfg, p, tokens, segpos) - R.forward(base, merged, tokens, segpos)).abs().max()
    check(float(diff) < 1e-12, "lora: adapted logits equal the merged model's (max diff %.1e)" % float(diff))
    names = [n for n, _ in R.param_shapes(cfg)]

    def f(*tensors):
        return R.loss_fn(R.forward(cfg, dict(zip(names, tensors)), tokens, segpos), targets, mask)

    inputs = tuple(p[n].clone().requires_grad_(True) for n in names)
    ok = torch.autograd.gradcheck(f, inputs, eps=1e-6, atol=1e-7, rtol=1e-5, raise_exception=False)
    check(ok, "gradcheck with adapters on every linear: rank 2, %d params" % sum(t.numel() for t in inputs))


def test_conv_tap_order():
    g = torch.Generator().manual_seed(5)
    B, T, L, K = 2, 7, 5, R.CONV_WIDTH
    x = torch.randn((B, T, L), generator=g, dtype=torch.float64)
    w = torch.randn((K, L), generator=g, dtype=torch.float64)
    b = torch.randn((L,), generator=g, dtype=torch.float64)
    segpos = torch.arange(T).expand(B, T) + 1          # no document start at all
    ours = R.conv1d(x, w, b, segpos)
    hf_w = w.t().unsqueeze(1)                          # hf[l, 0, j] = w[j, l]
    theirs = torch.nn.functional.conv1d(x.transpose(1, 2), hf_w, b, padding=K - 1, groups=L)
    theirs = theirs[:, :, :T].transpose(1, 2)
    check(torch.allclose(ours, theirs, rtol=0, atol=1e-14), "conv1d tap order == grouped conv1d (HF layout)")
    segpos = segpos.clone()
    segpos[:, 4] = 0
    masked = R.conv1d(x, w, b, segpos)
    doc2 = R.conv1d(x[:, 4:], w, b, torch.arange(T - 4).expand(B, T - 4))
    check(torch.allclose(masked[:, 4:], doc2, rtol=0, atol=1e-14) and
          torch.allclose(masked[:, :4], ours[:, :4], rtol=0, atol=0),
          "conv1d taps never cross a document start")


def test_packing():
    cfg = tiny_cfg("griffin", depth=3, W=3)
    p = R.init_params(cfg, torch.Generator().manual_seed(11), perturb=0.2)
    g = torch.Generator().manual_seed(12)
    a = torch.randint(0, cfg["vocab_size"], (1, 6), generator=g)
    b = torch.randint(0, cfg["vocab_size"], (1, 8), generator=g)
    packed = torch.cat([a, b], dim=1)
    pos = torch.cat([torch.arange(6), torch.arange(8)]).unsqueeze(0)
    lp = R.forward(cfg, p, packed, pos)
    la = R.forward(cfg, p, a, torch.arange(6).unsqueeze(0))
    lb = R.forward(cfg, p, b, torch.arange(8).unsqueeze(0))
    err = max(float((lp[:, :6] - la).abs().max()), float((lp[:, 6:] - lb).abs().max()))
    check(err < 1e-12, "packed documents are independent (max diff %.1e)" % err)


def test_causality_and_window():
    W = 3
    cfg = tiny_cfg("transformer", depth=1, W=W, cap=0.0)
    p = R.init_params(cfg, torch.Generator().manual_seed(13), perturb=0.2)
    T = 10
    tokens = torch.randint(0, cfg["vocab_size"], (1, T), generator=torch.Generator().manual_seed(14))
    pos = torch.arange(T).unsqueeze(0)
    base = R.forward(cfg, p, tokens, pos)
    ok = True
    for tau in range(T):
        changed = tokens.clone()
        changed[0, tau] = (changed[0, tau] + 1) % cfg["vocab_size"]
        diff = (R.forward(cfg, p, changed, pos) - base).abs().amax(-1)[0]
        for t in range(T):
            ok &= bool(diff[t] > 1e-9) == (0 <= t - tau <= W)
    check(ok, "one attention layer: token tau reaches query t iff 0 <= t - tau <= W (W+1 keys)")


def test_checker_round_trip():
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        def run(*args):
            return subprocess.run([py] + list(args), capture_output=True, text=True)

        good, bad, missing = (os.path.join(tmp, n) for n in ("good", "bad", "missing"))
        name = "blocks.1.recurrent_block.rg_lru.a_gate.w"
        common = ["--clip-channels", "2", "--T", "15"]
        for out, extra in ((good, []), (bad, ["--perturb-grad", name]),
                           (missing, ["--drop-grad", name])):
            r = run(os.path.join(HERE, "make_dump.py"), out, *common, *extra)
            check(r.returncode == 0, "make_dump.py %s" % " ".join(extra or ["(plain)"]))
        checker = os.path.join(HERE, "check_parity.py")
        r = run(checker, good)
        check(r.returncode == 0 and "parity: 53 passed, 0 failed" in r.stdout,
              "check_parity on a reference dump passes (exit %d)" % r.returncode)
        r = run(checker, bad)
        check(r.returncode == 1 and "parity: 52 passed, 1 failed" in r.stdout,
              "check_parity flags a perturbed gradient (exit %d)" % r.returncode)
        r = run(checker, missing)
        check(r.returncode == 2 and "missing grad/" + name in r.stderr,
              "check_parity errors on a missing gradient (exit %d)" % r.returncode)
        for fam in ("hawk", "transformer"):
            out = os.path.join(tmp, fam)
            run(os.path.join(HERE, "make_dump.py"), out, "--family", fam, "--depth", "2")
            r = run(checker, out)
            check(r.returncode == 0, "check_parity round trip, family %s (exit %d)" % (fam, r.returncode))


def main():
    torch.set_default_dtype(torch.float64)
    test_embed_scale()
    test_clipped_sqrt()
    test_clip_on_path()
    test_gradcheck("griffin")
    test_gradcheck("griffin", depth=3, H=4, L=8, cap=0.0, emb=0, W=2)
    test_gradcheck("hawk", depth=2)
    test_lora()
    test_conv_tap_order()
    test_packing()
    test_causality_and_window()
    test_checker_round_trip()
    print("selftest: %d failure(s)" % len(FAILURES))
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
