#!/usr/bin/env python3
"""A RecurrentGemma-2B-shaped model folder in the Hugging Face layout, with random weights, so the
whole flow (griffin import -> LoRA SFT -> sample -> export --merge) runs on the real shapes
without the real weights:

  scripts/make_2b_shape.py OUT_DIR [--tokenizer M.model] [--dtype bf16|fp32] [--seed S] [--depth L]

OUT_DIR gets config.json (the released model's RecurrentGemmaConfig fields: width 2560, 26
layers of (recurrent, recurrent, attention), 10 heads of 256, MLP 2 x 7680, vocabulary 256,000,
window 2048, soft cap 30), model-0000k-of-0000n.safetensors shards with the index, and the
tokenizer (default: the small data's, data/prepared/small/tokenizer.model: its ids fit the
256,000 rows). Weights are drawn as the official initialisation draws them (normals of std
sqrt(1/fan_in); norms zero; the RG-LRU recurrent parameter in its ring), tensor by tensor, so
memory stays at one tensor (the 2.6 GB fp32 embedding). --depth makes a shallower model of the
same width (quick checks)."""
import argparse, json, math, os, shutil, struct, sys

import numpy as np

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("out")
ap.add_argument("--tokenizer", default=os.path.join(os.path.dirname(__file__), "..", "data/prepared/small/tokenizer.model"))
ap.add_argument("--dtype", default="bf16", choices=["bf16", "fp32"])
ap.add_argument("--seed", type=int, default=0)
ap.add_argument("--depth", type=int, default=26)
a = ap.parse_args()

V, D, F, H, E, W, L = 256000, 2560, 7680, 10, 2560, 2048, a.depth
K, bw = D // H, E // H
types = [("recurrent", "recurrent", "attention")[i % 3] for i in range(L)]
rng = np.random.default_rng(a.seed)


def normal(shape, std):
    return (rng.standard_normal(shape, dtype=np.float32) * np.float32(std))


def tensors():
    yield "model.embed_tokens.weight", normal((V, D), math.sqrt(1.0 / D))
    for i in range(L):
        p = f"model.layers.{i}."
        yield p + "temporal_pre_norm.weight", np.zeros(D, np.float32)
        if types[i] == "recurrent":
            t = p + "temporal_block."
            for n in ("linear_y", "linear_x"):
                yield t + n + ".weight", normal((E, D), math.sqrt(1.0 / D))
                yield t + n + ".bias", np.zeros(E, np.float32)
            yield t + "linear_out.weight", normal((D, E), math.sqrt(2.0 / L / E))
            yield t + "linear_out.bias", np.zeros(D, np.float32)
            yield t + "conv_1d.weight", normal((E, 1, 4), math.sqrt(0.01 / 4))
            yield t + "conv_1d.bias", np.zeros(E, np.float32)
            u = rng.uniform(0.9 ** 2 + 1e-8, 0.999 ** 2 + 1e-8, E)
            yield t + "rg_lru.recurrent_param", np.log(np.exp(-0.5 * np.log(u)) - 1.0).astype(np.float32)
            for g in ("input_gate", "recurrent_gate"):
                yield t + f"rg_lru.{g}_weight", normal((H, bw, bw), math.sqrt(1.0 / bw))
                yield t + f"rg_lru.{g}_bias", np.zeros((H, bw), np.float32)
        else:
            t = p + "temporal_block."
            yield t + "q_proj.weight", normal((D, D), math.sqrt(1.0 / D))
            yield t + "k_proj.weight", normal((K, D), math.sqrt(1.0 / D))
            yield t + "v_proj.weight", normal((K, D), math.sqrt(1.0 / D))
            yield t + "o_proj.weight", normal((D, D), math.sqrt(2.0 / L / D))
            yield t + "o_proj.bias", np.zeros(D, np.float32)
        yield p + "channel_pre_norm.weight", np.zeros(D, np.float32)
        for n in ("gate_proj", "up_proj"):
            yield p + f"mlp_block.{n}.weight", normal((F, D), math.sqrt(1.0 / D))
            yield p + f"mlp_block.{n}.bias", np.zeros(F, np.float32)
        yield p + "mlp_block.down_proj.weight", normal((D, F), math.sqrt(2.0 / L / F))
        yield p + "mlp_block.down_proj.bias", np.zeros(D, np.float32)
    yield "model.final_norm.weight", np.zeros(D, np.float32)


def encode(x):
    if a.dtype == "fp32":
        return "F32", x.astype("<f4").tobytes()
    b = x.astype(np.float32).view(np.uint32)
    b = ((b + 0x7FFF + ((b >> 16) & 1)) >> 16).astype("<u2")  # round to nearest even
    return "BF16", b.tobytes()


def write_shard(path, items):
    head, off = {"__metadata__": {"format": "pt"}}, 0
    for name, shape, dt, blob in items:
        head[name] = {"dtype": dt, "shape": list(shape), "data_offsets": [off, off + len(blob)]}
        off += len(blob)
    h = json.dumps(head).encode()
    h += b" " * (-len(h) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for _, _, _, blob in items:
            f.write(blob)
    os.replace(tmp, path)


os.makedirs(a.out, exist_ok=True)
limit, shard, size, shards, total = 4 << 30, [], 0, [], 0
for name, x in tensors():
    dt, blob = encode(x)
    if shard and size + len(blob) > limit:
        shards.append(shard)
        shard, size = [], 0
    shard.append((name, x.shape, dt, blob))
    size += len(blob)
    total += len(blob)
    if len(shards) == 0 and len(shard) == 1:
        print(f"make_2b_shape: {name} {list(x.shape)} ...", flush=True)
shards.append(shard)
wmap = {}
for k, s in enumerate(shards):
    fn = f"model-{k + 1:05d}-of-{len(shards):05d}.safetensors"
    write_shard(os.path.join(a.out, fn), s)
    for name, _, _, _ in s:
        wmap[name] = fn
    print(f"make_2b_shape: wrote {fn} ({sum(len(b) for *_, b in s) / 1e9:.2f} GB)", flush=True)
with open(os.path.join(a.out, "model.safetensors.index.json"), "w") as f:
    json.dump({"metadata": {"total_size": total}, "weight_map": wmap}, f, indent=2)
cfg = {"architectures": ["RecurrentGemmaForCausalLM"], "model_type": "recurrent_gemma", "vocab_size": V,
       "hidden_size": D, "intermediate_size": 2 * F, "num_hidden_layers": L, "num_attention_heads": H,
       "num_key_value_heads": 1, "head_dim": K, "lru_width": E, "attention_window_size": W, "conv1d_width": 4,
       "logits_soft_cap": 30.0, "rms_norm_eps": 1e-6, "hidden_activation": "gelu_pytorch_tanh",
       "partial_rotary_factor": 0.5, "rope_theta": 10000.0, "attention_bias": False, "attention_dropout": 0.0,
       "block_types": ["recurrent", "recurrent", "attention"], "embeddings_scale_by_sqrt_dim": True,
       "tie_word_embeddings": True, "use_cache": True, "w_init_variance_scale": 0.01,
       "final_w_init_variance_scale": 2.0 / L, "pad_token_id": 0, "eos_token_id": 1, "bos_token_id": 2,
       "torch_dtype": "bfloat16" if a.dtype == "bf16" else "float32"}
with open(os.path.join(a.out, "config.json"), "w") as f:
    json.dump(cfg, f, indent=2)
if os.path.exists(a.tokenizer):
    shutil.copy(a.tokenizer, os.path.join(a.out, "tokenizer.model"))
else:
    print(f"make_2b_shape: no tokenizer at {a.tokenizer} (run scripts/prepare_data.sh --small, or pass --tokenizer)",
          file=sys.stderr)
n_params = sum(int(np.prod(s[1])) for sh in shards for s in sh)
print(f"make_2b_shape: {n_params:,} parameters ({L} layers), {total / 1e9:.2f} GB {a.dtype} in {len(shards)} shards -> {a.out}")
