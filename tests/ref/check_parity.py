#!/usr/bin/python3
"""Compare a griffin-dump written by the C model test against the float64 reference.

usage: check_parity.py DUMPFILE [--tol-grad 1e-4] [--tol-loss 1e-5] [--tol-logits 1e-4]

The dump holds the config, the float32 parameters, the inputs, and the C model's logits,
loss and gradients. The reference (griffin_ref.py, written from docs/architecture.md) is
rebuilt in float64 from the same parameters; its forward, loss (plain mean over unmasked
targets, section 12) and autograd gradients are compared tensor by tensor.

Error measure per tensor: max |c - r| / max |r| (the absolute error when max |r| = 0).
Exit status: 0 all pass, 1 some fail, 2 malformed dump or name/shape mismatch.

Dump format (little-endian): line 1 is a JSON object ending in '\\n' with keys format
("griffin-dump"), version (1), config, B, T, loss and tensors (a list of {name, dtype
f32|i32|u8, shape, offset}); tensor bytes start at (end of line 1) + offset, C order.
Names: param/<official name>, grad/<official name>, input/{tokens, targets, segment_pos,
loss_mask}, output/{logits, loss}.
"""

import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import griffin_ref  # noqa: E402

DTYPES = {"f32": np.dtype("<f4"), "i32": np.dtype("<i4"), "u8": np.dtype("u1")}
FORMAT, VERSION = "griffin-dump", 1


class DumpError(Exception):
    """A malformed dump or a dump that does not match the reference's parameter table."""


# ----------------------------------------------------------------------------------------
# Dump I/O (also used by make_dump.py)

def read_dump(path):
    """Returns (header dict, {name: numpy array})."""
    with open(path, "rb") as f:
        blob = f.read()
    nl = blob.find(b"\n")
    if nl < 0:
        raise DumpError("%s: no header line" % path)
    try:
        header = json.loads(blob[:nl].decode("utf-8"))
    except ValueError as e:
        raise DumpError("%s: header is not JSON (%s)" % (path, e))
    if header.get("format") != FORMAT or header.get("version") != VERSION:
        raise DumpError("%s: format %r version %r, want %r version %d"
                        % (path, header.get("format"), header.get("version"), FORMAT, VERSION))
    data_start = nl + 1
    tensors = {}
    for t in header["tensors"]:
        dt = DTYPES.get(t["dtype"])
        if dt is None:
            raise DumpError("%s: tensor %s has unknown dtype %r" % (path, t["name"], t["dtype"]))
        shape = tuple(int(s) for s in t["shape"])
        count = int(np.prod(shape, dtype=np.int64))
        begin = data_start + int(t["offset"])
        end = begin + count * dt.itemsize
        if end > len(blob):
            raise DumpError("%s: tensor %s [%d, %d) runs past the end of the file (%d bytes)"
                            % (path, t["name"], begin, end, len(blob)))
        if t["name"] in tensors:
            raise DumpError("%s: tensor %s appears twice" % (path, t["name"]))
        tensors[t["name"]] = np.frombuffer(blob, dtype=dt, count=count, offset=begin).reshape(shape)
    return header, tensors


def write_dump(path, config, B, T, loss, arrays):
    """arrays: list of (name, numpy array with dtype float32/int32/uint8)."""
    kinds = {np.dtype("float32"): "f32", np.dtype("int32"): "i32", np.dtype("uint8"): "u8"}
    entries, chunks, offset = [], [], 0
    for name, arr in arrays:
        arr = np.ascontiguousarray(arr)
        entries.append({"name": name, "dtype": kinds[arr.dtype], "shape": list(arr.shape),
                        "offset": offset})
        raw = arr.astype(arr.dtype.newbyteorder("<")).tobytes()
        chunks.append(raw)
        offset += len(raw)
    header = {"format": FORMAT, "version": VERSION, "config": config, "B": B, "T": T,
              "loss": float(loss), "tensors": entries}
    with open(path, "wb") as f:
        f.write(json.dumps(header).encode("utf-8") + b"\n")
        for c in chunks:
            f.write(c)


# ----------------------------------------------------------------------------------------
# Comparison

def compare(c, r):
    """(max |c - r|, error measure) with error = max|c-r| / max|r|, absolute if max|r| = 0."""
    c = np.asarray(c, dtype=np.float64)
    r = np.asarray(r, dtype=np.float64)
    if c.size == 0:
        return 0.0, 0.0
    diff = float(np.max(np.abs(c - r)))
    if not np.isfinite(c).all():
        diff = float("inf")
    scale = float(np.max(np.abs(r)))
    return diff, (diff / max(scale, 1e-30) if scale > 0 else diff)


def run_reference(header, tensors):
    """Rebuild the model in float64 from the dumped params; returns (loss, logits, grads)."""
    cfg = header["config"]
    B, T = int(header["B"]), int(header["T"])
    want = griffin_ref.param_shapes(cfg)
    want_names = {n for n, _ in want}

    def names_with(prefix):
        return {k[len(prefix):] for k in tensors if k.startswith(prefix)}

    problems = []
    for kind in ("param/", "grad/"):
        have = names_with(kind)
        for n in sorted(want_names - have):
            problems.append("missing %s%s (the reference has this parameter)" % (kind, n))
        for n in sorted(have - want_names):
            problems.append("unexpected %s%s (not a reference parameter for this config)"
                            % (kind, n))
    for name, shape in want:
        for kind in ("param/", "grad/"):
            arr = tensors.get(kind + name)
            if arr is not None and tuple(arr.shape) != tuple(shape):
                problems.append("%s%s has shape %s, want %s"
                                % (kind, name, list(arr.shape), list(shape)))
    for name, shape in (("input/tokens", (B, T)), ("input/targets", (B, T)),
                        ("input/segment_pos", (B, T)), ("input/loss_mask", (B, T)),
                        ("output/logits", (B, T, cfg["vocab_size"]))):
        if name not in tensors:
            problems.append("missing " + name)
        elif tuple(tensors[name].shape) != shape:
            problems.append("%s has shape %s, want %s"
                            % (name, list(tensors[name].shape), list(shape)))
    if problems:
        raise DumpError("dump does not match the reference:\n  " + "\n  ".join(problems))

    params = {n: torch.tensor(tensors["param/" + n], dtype=torch.float64, requires_grad=True)
              for n, _ in want}
    model = griffin_ref.GriffinRef(cfg, params)
    tokens = torch.tensor(tensors["input/tokens"], dtype=torch.long)
    targets = torch.tensor(tensors["input/targets"], dtype=torch.long)
    segpos = torch.tensor(tensors["input/segment_pos"], dtype=torch.long)
    mask = torch.tensor(tensors["input/loss_mask"].astype(np.bool_))
    V = cfg["vocab_size"]
    if tokens.min() < 0 or tokens.max() >= V:
        raise DumpError("input/tokens out of range [0, %d)" % V)
    bad = mask & ((targets < 0) | (targets >= V))
    if bad.any():
        raise DumpError("input/targets out of range [0, %d) at unmasked positions" % V)
    loss, logits = model.loss(tokens, segpos, targets, mask)
    loss.backward()
    grads = {n: p.grad.detach().numpy() for n, p in params.items()}
    return float(loss), logits.detach().numpy(), grads, want


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dump")
    ap.add_argument("--tol-grad", type=float, default=1e-4)
    ap.add_argument("--tol-loss", type=float, default=1e-5)
    ap.add_argument("--tol-logits", type=float, default=1e-4)
    args = ap.parse_args(argv)

    try:
        header, tensors = read_dump(args.dump)
        ref_loss, ref_logits, ref_grads, table = run_reference(header, tensors)
    except (DumpError, KeyError, ValueError, OSError) as e:
        print("check_parity: error: %s" % e, file=sys.stderr)
        return 2

    cfg = header["config"]
    print("dump %s: family %s, B=%d T=%d V=%d D=%d L=%s E=%d H=%d W=%d cap=%g emb_scale=%d "
          "blocks=%s" % (args.dump, cfg.get("family"), header["B"], header["T"],
                         cfg["vocab_size"], cfg["width"], cfg.get("lru_width"),
                         cfg["mlp_width"], cfg["num_heads"], cfg["window"],
                         float(cfg["soft_cap"]), cfg["embed_scale"], cfg["block_types"]))
    c_loss = tensors["output/loss"].reshape(-1)[0] if "output/loss" in tensors else header["loss"]
    rows = [("loss", "[1]", c_loss, ref_loss, args.tol_loss),
            ("logits", str(list(ref_logits.shape)), tensors["output/logits"], ref_logits,
             args.tol_logits)]
    for name, shape in table:
        rows.append(("grad/" + name, str(list(shape)), tensors["grad/" + name],
                     ref_grads[name], args.tol_grad))

    width = max(len(r[0]) for r in rows)
    print("%-*s  %-16s  %12s  %12s  %10s  %s"
          % (width, "tensor", "shape", "max|r|", "max|c-r|", "rel err", "result"))
    passed = failed = 0
    for name, shape, c, r, tol in rows:
        diff, err = compare(c, r)
        ok = err <= tol          # NaN/inf fail here
        passed += ok
        failed += not ok
        print("%-*s  %-16s  %12.4e  %12.4e  %10.3e  %s"
              % (width, name, shape, float(np.max(np.abs(r))), diff, err,
                 "ok" if ok else "FAIL (tol %g)" % tol))
    if "output/loss" in tensors and abs(float(header["loss"]) - float(c_loss)) > 1e-6 * max(1.0, abs(c_loss)):
        print("warning: header loss %r differs from output/loss %r" % (header["loss"], float(c_loss)))
    print("parity: %d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
