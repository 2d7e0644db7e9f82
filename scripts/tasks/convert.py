#!/usr/bin/python3
"""Converts the public releases of standard benchmarks into task files of `griffin eval --tasks`
(data/tasks.h), with the prompt templates of lm-evaluation-harness. The data is neither shipped
nor downloaded: point the script at your own copy (JSON Lines, one record per line, as the
benchmarks' own releases and the Hugging Face datasets' JSON exports store them).

  scripts/tasks/convert.py TASK INPUT.jsonl OUTPUT.jsonl [--labels FILE] [--limit N]

TASK       template (lm-evaluation-harness task)                       scoring
hellaswag  "{activity_label}: {ctx_a} {ctx_b.capitalize()}" -> " {ending}" acc_norm is the usual number
           (the harness's preprocess: strip, " [title]" -> ". ", drop [..], double spaces)
piqa       "Question: {goal}\\nAnswer:" -> " {sol1}" | " {sol2}"        acc / acc_norm
           (labels from the record's "label" or --labels valid-labels.lst)
arc        "Question: {question}\\nAnswer:" -> " {choice text}"         ARC-Easy and ARC-Challenge;
           (AI2's {"question": {"stem", "choices"}, "answerKey"} or the  acc / acc_norm
           flat {"question", "choices": {"text", "label"}, "answerKey"})
boolq      "{passage}\\nQuestion: {question}?\\nAnswer:" -> " no" | " yes" acc
winogrande partial scoring: contexts "{sentence up to _}{option}", the     acc
           continuation " {rest of the sentence}" (the harness's partial
           evaluation; answer "1"/"2")
gsm8k      "Question: {question}\\nAnswer:", generation until "Question:" exact_match of the last
           (and a blank line), 256 tokens; answers: the number after     number ("flexible-extract");
           "####"; the full solution is each example's few-shot target     the harness runs it 5-shot
Then: griffin eval --checkpoint C --tasks OUTPUT.jsonl [--fewshot N --fewshot-file TRAIN.jsonl]
"""
import argparse
import json
import re
import sys


def hellaswag_pre(text):
    text = text.strip().replace(" [title]", ". ")
    text = re.sub(r"\[.*?\]", "", text)
    return text.replace("  ", " ")


def hellaswag(r, _):
    ctx = r["ctx_a"] + " " + r["ctx_b"].capitalize()
    return {"context": hellaswag_pre(r["activity_label"] + ": " + ctx),
            "choices": [hellaswag_pre(e) for e in r["endings"]], "label": int(r["label"])}


def piqa(r, label):
    return {"context": "Question: %s\nAnswer:" % r["goal"], "choices": [r["sol1"], r["sol2"]],
            "label": int(r["label"] if "label" in r else label)}


def arc(r, _):
    q = r["question"]
    if isinstance(q, dict):  # AI2's release
        stem, texts, labels = q["stem"], [c["text"] for c in q["choices"]], [c["label"] for c in q["choices"]]
    else:
        stem, texts, labels = q, r["choices"]["text"], r["choices"]["label"]
    return {"context": "Question: %s\nAnswer:" % stem, "choices": texts, "label": labels.index(r["answerKey"])}


def boolq(r, _):
    ans = r["answer"] if "answer" in r else bool(r["label"])
    return {"context": "%s\nQuestion: %s?\nAnswer:" % (r["passage"], r["question"]), "choices": ["no", "yes"],
            "label": int(bool(ans))}


def winogrande(r, _):
    s = r["sentence"]
    i = s.index("_")
    return {"contexts": [s[:i] + r["option1"], s[:i] + r["option2"]], "continuation": s[i + 1:].strip(),
            "label": int(r["answer"]) - 1}


def gsm8k(r, _):
    solution = r["answer"]
    final = solution.split("####")[-1].strip().replace(",", "")
    return {"prompt": "Question: %s\nAnswer:" % r["question"], "answers": [final], "target": solution}


TASKS = {"hellaswag": hellaswag, "piqa": piqa, "arc": arc, "boolq": boolq, "winogrande": winogrande, "gsm8k": gsm8k}
HEADERS = {"gsm8k": {"task": "gsm8k", "match": "number", "until": ["Question:", "\n\n"], "max_new_tokens": 256}}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("task", choices=sorted(TASKS))
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--labels", help="PIQA: the labels file of the release (one 0/1 per line)")
    ap.add_argument("--limit", type=int, default=0)
    a = ap.parse_args()
    labels = [l.strip() for l in open(a.labels)] if a.labels else None
    n = 0
    with open(a.input, encoding="utf-8") as f, open(a.output, "w", encoding="utf-8") as out:
        out.write(json.dumps(HEADERS.get(a.task, {"task": a.task})) + "\n")
        for i, line in enumerate(f):
            if not line.strip():
                continue
            r = json.loads(line)
            if a.task == "winogrande" and str(r.get("answer", "")) not in ("1", "2"):
                continue  # the unlabelled test split
            try:
                rec = TASKS[a.task](r, labels[i] if labels else None)
            except (KeyError, ValueError, TypeError) as e:
                sys.exit("convert: %s:%d: not a %s record (%s: %s)" % (a.input, i + 1, a.task, type(e).__name__, e))
            out.write(json.dumps(rec, ensure_ascii=False) + "\n")
            n += 1
            if a.limit and n == a.limit:
                break
    print("convert: %d %s examples -> %s" % (n, a.task, a.output))


if __name__ == "__main__":
    main()
