#!/usr/bin/python3
"""Check a `griffin export --format hf` folder against our own logits.

usage: hf_check.py EXPORT_DIR [--tol 1e-5]

EXPORT_DIR holds what the export wrote (config.json, model.safetensors or a sharded index)
plus logits.json / logits.f32 from tests/test_interop.c (hf_dump): the token ids and the
C model's soft-capped logits [B, T, V] for positions 0..T-1, T <= the attention window.

Checks, all in float64:
1. The tensor names and shapes are exactly those a HuggingFace RecurrentGemmaForCausalLM
   built from this config.json has (modeling_recurrent_gemma.py: layers_block_type cycles
   block_types; MLP branches of intermediate_size // 2; conv_1d [lru_width, 1, conv1d_width];
   lm_head tied, so absent or equal to the embedding).
2. hf_forward: the HF model's forward written after modeling_recurrent_gemma.py, reading the
   HF tensors directly (nn.functional.conv1d with groups = lru_width and padding K-1, the
   split gate/up projections, rotate_half RoPE on the first half of each head, a full causal
   mask: the HF parallel pass has no sliding window, hence T <= window here).
3. The HF names mapped back to the official ones (docs/architecture.md section 15.3, inverted)
   and run through the independent reference tests/ref/griffin_ref.py.
Both must match the C logits to max|c - r| / max|r| <= tol. Exit 0 pass, 1 fail, 2 bad input.
"""

import argparse
import json
import math
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import griffin_ref  # noqa: E402

DTYPES = {"F32": np.dtype("<f4"), "F16": np.dtype("<f2")}


def read_safetensors(path):
    """{name: float64 tensor} of one file (F32, F16 or BF16)."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    base = 8 + n
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        raw = blob[base + b: base + end]
        if e["dtype"] == "BF16":
            u = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            arr = u.view(np.float32)
        else:
            arr = np.frombuffer(raw, dtype=DTYPES[e["dtype"]])
        out[name] = torch.from_numpy(arr.astype(np.float64).reshape(e["shape"]))
    return out


def read_weights(folder):
    index = os.path.join(folder, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            shards = sorted(set(json.load(f)["weight_map"].values()))
        w = {}
        for s in shards:
            w.update(read_safetensors(os.path.join(folder, s)))
        return w
    return read_safetensors(os.path.join(folder, "model.safetensors"))


def layer_types(cfg):
    return (list(cfg["block_types"]) * 100)[: cfg["num_hidden_layers"]]


def expected_shapes(cfg):
    """name -> shape of every parameter of RecurrentGemmaForCausalLM (lm_head excluded)."""
    D, V, H = cfg["hidden_size"], cfg["vocab_size"], cfg["num_attention_heads"]
    Lw = cfg.get("lru_width") or D
    I2 = cfg["intermediate_size"] // 2
    K = cfg.get("conv1d_width", 4)
    hd = D // H
    kv = cfg.get("num_key_value_heads", H)
    bw = Lw // H
    s = {"model.embed_tokens.weight": (V, D), "model.final_norm.weight": (D,)}
    for i, kind in enumerate(layer_types(cfg)):
        p = "model.layers.%d." % i
        s[p + "temporal_pre_norm.weight"] = (D,)
        s[p + "channel_pre_norm.weight"] = (D,)
        t = p + "temporal_block."
        if kind == "recurrent":
            s.update({t + "linear_y.weight": (Lw, D), t + "linear_y.bias": (Lw,),
                      t + "linear_x.weight": (Lw, D), t + "linear_x.bias": (Lw,),
                      t + "linear_out.weight": (D, Lw), t + "linear_out.bias": (D,),
                      t + "conv_1d.weight": (Lw, 1, K), t + "conv_1d.bias": (Lw,),
                      t + "rg_lru.recurrent_param": (Lw,),
                      t + "rg_lru.input_gate_weight": (H, bw, bw), t + "rg_lru.input_gate_bias": (H, bw),
                      t + "rg_lru.recurrent_gate_weight": (H, bw, bw),
                      t + "rg_lru.recurrent_gate_bias": (H, bw)})
        elif kind == "attention":
            s.update({t + "q_proj.weight": (H * hd, D), t + "k_proj.weight": (kv * hd, D),
                      t + "v_proj.weight": (kv * hd, D), t + "o_proj.weight": (D, H * hd),
                      t + "o_proj.bias": (D,)})
            if cfg.get("attention_bias"):
                for n in ("q_proj", "k_proj", "v_proj"):
                    s[t + n + ".bias"] = (s[t + n + ".weight"][0],)
        else:
            raise ValueError("block type %r" % kind)
        m = p + "mlp_block."
        s.update({m + "gate_proj.weight": (I2, D), m + "gate_proj.bias": (I2,),
                  m + "up_proj.weight": (I2, D), m + "up_proj.bias": (I2,),
                  m + "down_proj.weight": (D, I2), m + "down_proj.bias": (D,)})
    return s


# ----------------------------------------------------------------------------------------
# The HF forward, after modeling_recurrent_gemma.py (float64, no cache)

def gelu_pytorch_tanh(x):
    return torch.nn.functional.gelu(x, approximate="tanh")


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * (1.0 + w)


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def hf_forward(cfg, w, tokens):
    B, T = tokens.shape
    D, H = cfg["hidden_size"], cfg["num_attention_heads"]
    hd = D // H
    eps = cfg.get("rms_norm_eps", 1e-6)
    K = cfg.get("conv1d_width", 4)
    position_ids = torch.arange(T)[None].expand(B, T)
    normalizer = float(torch.tensor(D ** 0.5, dtype=torch.bfloat16))
    x = w["model.embed_tokens.weight"][tokens] * normalizer
    for i, kind in enumerate(layer_types(cfg)):
        p = "model.layers.%d." % i
        g = lambda n: w[p + n]  # noqa: E731
        h = rms_norm(x, g("temporal_pre_norm.weight"), eps)
        if kind == "recurrent":
            lin = lambda v, n: torch.nn.functional.linear(v, g(n + ".weight"), g(n + ".bias"))  # noqa: E731
            y = gelu_pytorch_tanh(lin(h, "temporal_block.linear_y"))
            xb = lin(h, "temporal_block.linear_x").transpose(1, 2)
            Lw = xb.shape[1]
            xb = torch.nn.functional.conv1d(xb, g("temporal_block.conv_1d.weight"), g("temporal_block.conv_1d.bias"),
                                            padding=K - 1, groups=Lw)[..., :T].transpose(1, 2)
            # RG-LRU
            nh, bw = H, Lw // H
            reset = position_ids[:, :, None] == 0
            act = xb.reshape(B * T, nh, bw).permute(1, 0, 2)
            ig = torch.baddbmm(g("temporal_block.rg_lru.input_gate_bias")[:, None, :], act,
                               g("temporal_block.rg_lru.input_gate_weight"))
            ig = torch.sigmoid(ig.transpose(0, 1).reshape(B, T, Lw))
            rg = torch.baddbmm(g("temporal_block.rg_lru.recurrent_gate_bias")[:, None, :], act,
                               g("temporal_block.rg_lru.recurrent_gate_weight"))
            rg = torch.sigmoid(rg.transpose(0, 1).reshape(B, T, Lw))
            log_a = -8.0 * rg * torch.nn.functional.softplus(g("temporal_block.rg_lru.recurrent_param"))
            a = torch.exp(log_a)
            a_sq = torch.exp(2 * log_a)
            mult = torch.sqrt(1 - a_sq)
            mult = reset + ~reset * mult
            xn = xb * ig * mult
            a = a * ~reset
            state = torch.zeros(B, Lw, dtype=torch.float64)
            outs = []
            for t in range(T):
                state = a[:, t] * state + xn[:, t]
                outs.append(state)
            o = torch.stack(outs, dim=1) * y
            tb = lin(o, "temporal_block.linear_out")
        else:
            q = torch.nn.functional.linear(h, g("temporal_block.q_proj.weight")).view(B, T, H, hd).transpose(1, 2)
            k = torch.nn.functional.linear(h, g("temporal_block.k_proj.weight")).view(B, T, -1, hd).transpose(1, 2)
            v = torch.nn.functional.linear(h, g("temporal_block.v_proj.weight")).view(B, T, -1, hd).transpose(1, 2)
            prf = cfg.get("partial_rotary_factor", 0.5)
            dim = int(hd * prf)
            theta = cfg.get("rope_theta", 10000.0)
            inv_freq = 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.int64).to(torch.float64) / dim))
            freqs = position_ids[:, :, None].to(torch.float64) * inv_freq[None, None, :]
            emb = torch.cat((freqs, freqs), dim=-1)
            cos, sin = emb.cos()[:, None], emb.sin()[:, None]
            q_rot, q_pass = torch.chunk(q, int(1 / prf), dim=-1)
            k_rot, k_pass = torch.chunk(k, int(1 / prf), dim=-1)
            q = torch.cat((q_rot * cos + rotate_half(q_rot) * sin, q_pass), dim=-1)
            k = torch.cat((k_rot * cos + rotate_half(k_rot) * sin, k_pass), dim=-1)
            k = k.expand(B, H, T, hd)
            v = v.expand(B, H, T, hd)
            s = q @ k.transpose(-1, -2) * hd ** -0.5
            causal = torch.ones(T, T, dtype=torch.bool).tril()
            s = s.masked_fill(~causal, float("-inf"))
            att = (torch.softmax(s, dim=-1) @ v).transpose(1, 2).reshape(B, T, D)
            tb = torch.nn.functional.linear(att, g("temporal_block.o_proj.weight"), g("temporal_block.o_proj.bias"))
        r = tb + x
        hm = rms_norm(r, g("channel_pre_norm.weight"), eps)
        lin = lambda v, n: torch.nn.functional.linear(v, g("mlp_block." + n + ".weight"), g("mlp_block." + n + ".bias"))  # noqa: E731
        x = lin(gelu_pytorch_tanh(lin(hm, "gate_proj")) * lin(hm, "up_proj"), "down_proj") + r
    x = rms_norm(x, w["model.final_norm.weight"], eps)
    logits = x @ w.get("lm_head.weight", w["model.embed_tokens.weight"]).t()
    cap = cfg["logits_soft_cap"]
    return torch.tanh(logits / cap) * cap


# ----------------------------------------------------------------------------------------
# HF names -> official names (section 15.3 inverted), for griffin_ref

def to_official(cfg, w):
    p = {"embedder.input_embedding": w["model.embed_tokens.weight"][: cfg["vocab_size"]],
         "final_norm.scale": w["model.final_norm.weight"]}
    ren = {"linear_y.weight": "linear_y.weight", "linear_y.bias": "linear_y.bias",
           "linear_x.weight": "linear_x.weight", "linear_x.bias": "linear_x.bias",
           "linear_out.weight": "linear_out.weight", "linear_out.bias": "linear_out.bias",
           "conv_1d.bias": "conv_1d.b", "rg_lru.recurrent_param": "rg_lru.a_param",
           "rg_lru.input_gate_weight": "rg_lru.input_gate.w", "rg_lru.input_gate_bias": "rg_lru.input_gate.b",
           "rg_lru.recurrent_gate_weight": "rg_lru.a_gate.w", "rg_lru.recurrent_gate_bias": "rg_lru.a_gate.b"}
    att = {"q_proj.weight": "proj_q.weight", "k_proj.weight": "proj_k.weight", "v_proj.weight": "proj_v.weight",
           "o_proj.weight": "proj_final.weight", "o_proj.bias": "proj_final.bias"}
    for i, kind in enumerate(layer_types(cfg)):
        h, o = "model.layers.%d." % i, "blocks.%d." % i
        p[o + "temporal_pre_norm.scale"] = w[h + "temporal_pre_norm.weight"]
        p[o + "channel_pre_norm.scale"] = w[h + "channel_pre_norm.weight"]
        if kind == "recurrent":
            for a, b in ren.items():
                p[o + "recurrent_block." + b] = w[h + "temporal_block." + a]
            cw = w[h + "temporal_block.conv_1d.weight"]              # [L, 1, K]
            p[o + "recurrent_block.conv_1d.w"] = cw[:, 0, :].t().contiguous()   # w[j, l] = hf[l, 0, j]
        else:
            for a, b in att.items():
                p[o + "attention_block." + b] = w[h + "temporal_block." + a]
        m = h + "mlp_block."
        p[o + "mlp_block.ffw_up.w"] = torch.stack([w[m + "gate_proj.weight"].t(), w[m + "up_proj.weight"].t()])
        p[o + "mlp_block.ffw_up.b"] = torch.stack([w[m + "gate_proj.bias"], w[m + "up_proj.bias"]])[:, None, None, :]
        p[o + "mlp_block.ffw_down.weight"] = w[m + "down_proj.weight"]
        p[o + "mlp_block.ffw_down.bias"] = w[m + "down_proj.bias"]
    return p


def ref_config(cfg):
    types = layer_types(cfg)
    return {"vocab_size": cfg["vocab_size"], "width": cfg["hidden_size"],
            "lru_width": cfg.get("lru_width") or cfg["hidden_size"],
            "mlp_width": cfg["intermediate_size"] // 2, "num_heads": cfg["num_attention_heads"],
            "depth": cfg["num_hidden_layers"], "window": cfg["attention_window_size"],
            "soft_cap": cfg["logits_soft_cap"], "embed_scale": 1,
            "block_types": [griffin_ref.RECURRENT if t == "recurrent" else griffin_ref.ATTENTION for t in types]}


def rel_err(c, r):
    denom = float(r.abs().max())
    return float((c - r).abs().max()) / (denom if denom > 0 else 1.0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("folder")
    ap.add_argument("--tol", type=float, default=1e-5)
    a = ap.parse_args()
    with open(os.path.join(a.folder, "config.json")) as f:
        cfg = json.load(f)
    with open(os.path.join(a.folder, "logits.json")) as f:
        meta = json.load(f)
    B, T, V = meta["B"], meta["T"], meta["V"]
    if T > cfg["attention_window_size"]:
        print("T = %d exceeds the window %d: the HF parallel pass would differ" % (T, cfg["attention_window_size"]))
        return 2
    ours = np.fromfile(os.path.join(a.folder, meta["logits"]), dtype="<f4")
    if ours.size != B * T * V:
        print("logits file has %d values, want %d" % (ours.size, B * T * V))
        return 2
    ours = torch.from_numpy(ours.astype(np.float64).reshape(B, T, V))
    tokens = torch.tensor(meta["tokens"], dtype=torch.long).reshape(B, T)

    # 1. names and shapes of RecurrentGemmaForCausalLM
    for k, want in (("model_type", "recurrent_gemma"), ("num_key_value_heads", 1), ("conv1d_width", 4),
                    ("hidden_activation", "gelu_pytorch_tanh"), ("partial_rotary_factor", 0.5)):
        if cfg.get(k) != want:
            print("FAIL config.json %s = %r, want %r" % (k, cfg.get(k), want))
            return 1
    if cfg.get("architectures") != ["RecurrentGemmaForCausalLM"]:
        print("FAIL config.json architectures = %r" % cfg.get("architectures"))
        return 1
    w = read_weights(a.folder)
    want = expected_shapes(cfg)
    if "lm_head.weight" in w:
        if not torch.equal(w["lm_head.weight"], w["model.embed_tokens.weight"]):
            print("FAIL lm_head.weight is not tied to the embedding")
            return 1
        del w["lm_head.weight"]
    missing, extra = sorted(set(want) - set(w)), sorted(set(w) - set(want))
    if missing or extra:
        print("FAIL tensor names: missing %s, unexpected %s" % (missing, extra))
        return 1
    for n, s in want.items():
        if tuple(w[n].shape) != tuple(s):
            print("FAIL %s has shape %s, HF builds %s" % (n, tuple(w[n].shape), s))
            return 1
    print("names and shapes: %d tensors as RecurrentGemmaForCausalLM (%d layers: %s)"
          % (len(want), cfg["num_hidden_layers"], ",".join(t[0].upper() for t in layer_types(cfg))))

    # 2. the HF forward on the HF tensors; 3. the reference on the mapped-back tensors
    with torch.no_grad():
        hf = hf_forward(cfg, w, tokens)
        ref = griffin_ref.GriffinRef(ref_config(cfg), to_official(cfg, w))
        pos = torch.arange(T)[None].expand(B, T)
        r = ref.logits(tokens, pos)
    e_hf, e_ref, e_cross = rel_err(ours, hf), rel_err(ours, r), rel_err(hf, r)
    print("logits [%d, %d, %d], T = %d <= window %d: C vs HF forward %.3g, C vs griffin_ref %.3g, "
          "HF forward vs griffin_ref %.3g (tol %g)" % (B, T, V, T, cfg["attention_window_size"], e_hf, e_ref, e_cross, a.tol))
    ok = e_hf <= a.tol and e_ref <= a.tol and e_cross <= 1e-10
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
