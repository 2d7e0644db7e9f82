#!/usr/bin/python3
"""Write a griffin-dump from the float64 REFERENCE itself, to test check_parity.py alone.

usage: make_dump.py OUT [--seed S] [--family griffin|hawk|transformer] [sizes...]
                        [--perturb-grad NAME] [--drop-grad NAME] [--clip-channels N]

Parameters follow the init of docs/architecture.md section 13, except that every tensor the
init leaves at zero (norm scales, biases) gets small random values so that it is
exercised. Rows hold packed documents (segment_pos restarting at 0, T > window, one row
starting mid-document), the loss mask is random. The parameters are rounded to float32,
then the reference's loss, logits and gradients are computed from those float32 values
in float64 and stored as float32, as the C test would store its own.

Self-test knobs:
  --perturb-grad NAME   add 1e-2 * max|g| to one element of grad/NAME (must FAIL).
  --drop-grad NAME      leave grad/NAME out of the dump (must exit 2).
  --clip-channels N     set N a_param channels per recurrent layer to -20 so that
                        1 - a^2 < 2.5e-7 there and the clipped sqrt gradient is active.
                        For reference-vs-reference runs only: in float32, 1 - a^2 is not
                        resolved there (float32 spacing below 1 is 6e-8), so a float32
                        model legitimately differs from float64 by ~5e-4 in that regime.
"""

import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import griffin_ref  # noqa: E402
from check_parity import write_dump  # noqa: E402


def block_types(family, depth):
    if family == "griffin":
        return [1 if i % 3 == 2 else 0 for i in range(depth)]   # (R, R, A) cycle, section 1
    if family == "hawk":
        return [0] * depth
    if family == "transformer":
        return [1] * depth
    raise ValueError("unknown family " + family)


def packed_positions(rng, B, T, window):
    """segment_pos [B,T]: documents of random lengths (1 .. 2W+2) packed in each row;
    odd rows start mid-document (a nonzero first position)."""
    pos = np.zeros((B, T), dtype=np.int32)
    for b in range(B):
        p = int(rng.integers(3, 9)) if b % 2 else 0
        left = int(rng.integers(1, 2 * window + 3))
        for t in range(T):
            if left == 0:
                p, left = 0, int(rng.integers(1, 2 * window + 3))
            pos[b, t] = p
            p += 1
            left -= 1
    return pos


def make(args):
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    cfg = {"family": args.family, "vocab_size": args.vocab, "width": args.width,
           "lru_width": args.lru_width, "mlp_width": args.mlp_width,
           "num_heads": args.heads, "depth": args.depth, "window": args.window,
           "soft_cap": float(args.soft_cap), "embed_scale": int(args.embed_scale),
           "block_types": block_types(args.family, args.depth)}
    B, T, V = args.B, args.T, args.vocab

    params64 = griffin_ref.init_params(cfg, gen, perturb=args.perturb)
    for i, kind in enumerate(cfg["block_types"]):
        if kind == griffin_ref.RECURRENT and args.clip_channels:
            params64["blocks.%d.recurrent_block.rg_lru.a_param" % i][:args.clip_channels] = -20.0
    params32 = {n: p.numpy().astype(np.float32) for n, p in params64.items()}

    stream = rng.integers(0, V, size=(B, T + 1)).astype(np.int32)
    tokens, targets = stream[:, :T].copy(), stream[:, 1:].copy()
    segpos = packed_positions(rng, B, T, args.window)
    mask = (rng.random((B, T)) < 0.75).astype(np.uint8)
    mask[0, 0] = 1
    targets[mask == 0] = -1          # ignored targets may hold anything

    params = {n: torch.tensor(a, dtype=torch.float64, requires_grad=True)
              for n, a in params32.items()}
    model = griffin_ref.GriffinRef(cfg, params)
    loss, logits = model.loss(tokens, segpos, targets, mask)
    loss.backward()

    arrays = []
    for name, _ in griffin_ref.param_shapes(cfg):
        arrays.append(("param/" + name, params32[name]))
    for name, _ in griffin_ref.param_shapes(cfg):
        if name == args.drop_grad:
            continue
        g = params[name].grad.numpy().astype(np.float32)
        if name == args.perturb_grad:
            g = g.copy()
            g.reshape(-1)[0] += 1e-2 * float(np.max(np.abs(g)) or 1.0)
        arrays.append(("grad/" + name, g))
    arrays += [("input/tokens", tokens), ("input/targets", targets),
               ("input/segment_pos", segpos), ("input/loss_mask", mask),
               ("output/logits", logits.detach().numpy().astype(np.float32)),
               ("output/loss", np.array([float(loss)], dtype=np.float32))]
    names = {n for n, _ in griffin_ref.param_shapes(cfg)}
    for n in (args.perturb_grad, args.drop_grad):
        if n is not None and n not in names:
            raise SystemExit("make_dump: %s is not a parameter of this config" % n)
    write_dump(args.out, cfg, B, T, float(loss), arrays)
    print("make_dump: wrote %s (loss %.6f, %d parameters, segment_pos row 0: %s)"
          % (args.out, float(loss), len(names), segpos[0].tolist()))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--family", default="griffin", choices=["griffin", "hawk", "transformer"])
    ap.add_argument("--vocab", type=int, default=67)
    ap.add_argument("--width", type=int, default=24)
    ap.add_argument("--lru-width", type=int, default=32)
    ap.add_argument("--mlp-width", type=int, default=72)
    ap.add_argument("--heads", type=int, default=2)
    ap.add_argument("--depth", type=int, default=3)
    ap.add_argument("--window", type=int, default=4)
    ap.add_argument("--soft-cap", type=float, default=30.0)
    ap.add_argument("--embed-scale", type=int, default=1, choices=[0, 1])
    ap.add_argument("--B", type=int, default=2)
    ap.add_argument("--T", type=int, default=17)
    ap.add_argument("--perturb", type=float, default=0.1,
                    help="std of the random values given to zero-init tensors")
    ap.add_argument("--perturb-grad", default=None)
    ap.add_argument("--drop-grad", default=None)
    ap.add_argument("--clip-channels", type=int, default=0)
    make(ap.parse_args(argv))


if __name__ == "__main__":
    main()
