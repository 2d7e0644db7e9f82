#!/usr/bin/python3
"""scripts/tasks/convert.py on one made-up record per benchmark format (the real files are not
shipped): the harness's template for each, then `griffin eval --tasks` accepts and scores every
converted file (and 1-shot GSM8K, whose shots carry the worked solution).

usage: test_task_convert.py GRIFFIN CHECKPOINT WORK"""
import json
import os
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
convert = os.path.join(here, "..", "scripts", "tasks", "convert.py")
griffin, ckpt, work = sys.argv[1:4]
os.makedirs(work, exist_ok=True)

RECORDS = {
    "hellaswag": ([{"activity_label": "Baking cookies", "ctx_a": "A woman puts dough on a tray.",
                    "ctx_b": "she", "endings": ["puts the tray in the oven.", "eats the [title] tray.",
                                                 "paints a  wall.", "runs away."], "label": "0"}] * 2,
                  {"context": "Baking cookies: A woman puts dough on a tray. She",
                   "choices": ["puts the tray in the oven.", "eats the. tray.", "paints a wall.", "runs away."],
                   "label": 0}),
    "piqa": ([{"goal": "Open a jar", "sol1": "Twist the lid.", "sol2": "Push the lid.", "label": 0},
              {"goal": "Dry a cup", "sol1": "Use water.", "sol2": "Use a towel.", "label": 1}],
             {"context": "Question: Open a jar\nAnswer:", "choices": ["Twist the lid.", "Push the lid."], "label": 0}),
    "arc": ([{"question": {"stem": "What melts ice?", "choices": [{"text": "heat", "label": "A"},
                                                                  {"text": "cold", "label": "B"}]}, "answerKey": "A"},
             {"question": "What is wet?", "choices": {"text": ["sand", "water"], "label": ["1", "2"]}, "answerKey": "2"}],
            {"context": "Question: What melts ice?\nAnswer:", "choices": ["heat", "cold"], "label": 0}),
    "boolq": ([{"question": "is the sky blue", "passage": "The sky is blue.", "answer": True},
               {"question": "is fire cold", "passage": "Fire is hot.", "label": 0}],
              {"context": "The sky is blue.\nQuestion: is the sky blue?\nAnswer:", "choices": ["no", "yes"], "label": 1}),
    "winogrande": ([{"sentence": "The cup fell off the table because _ was wobbly.", "option1": "the cup",
                     "option2": "the table", "answer": "2"},
                    {"sentence": "Ann gave Bob a book because _ liked reading.", "option1": "Ann", "option2": "Bob",
                     "answer": ""}],
                   {"contexts": ["The cup fell off the table because the cup", "The cup fell off the table because the table"],
                    "continuation": "was wobbly.", "label": 1}),
    "gsm8k": ([{"question": "Tom has 2 apples and buys 3. How many?", "answer": "2 + 3 = 5\n#### 5"},
               {"question": "A box holds 1,200 pins. Two boxes?", "answer": "2 * 1200 = 2400\n#### 2,400"}],
              {"prompt": "Question: Tom has 2 apples and buys 3. How many?\nAnswer:", "answers": ["5"],
               "target": "2 + 3 = 5\n#### 5"}),
}

fails = 0
for task, (records, want) in sorted(RECORDS.items()):
    src, dst = os.path.join(work, task + ".in.jsonl"), os.path.join(work, task + ".jsonl")
    with open(src, "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in records)
    subprocess.run([sys.executable, convert, task, src, dst], check=True, capture_output=True)
    lines = [json.loads(l) for l in open(dst)]
    got = lines[1]
    if got != want:
        print("FAIL %s: converted %s, want %s" % (task, got, want))
        fails += 1
    shots = ["--fewshot", "1"] if task == "gsm8k" else []
    r = subprocess.run([griffin, "eval", "--checkpoint", ckpt, "--tasks", dst, "--max-new-tokens", "4"] + shots,
                       capture_output=True, text=True)
    metric = "exact_match:" if task == "gsm8k" else "acc_norm:"
    if r.returncode != 0 or metric not in r.stdout:
        print("FAIL %s: griffin eval --tasks exit %d: %s" % (task, r.returncode, r.stderr.strip()))
        fails += 1
    else:
        print("%s: %d examples converted and scored (%s)" % (task, len(lines) - 1,
              next(l for l in r.stdout.splitlines() if l.startswith(metric))))
if json.loads(open(os.path.join(work, "gsm8k.jsonl")).readlines()[2])["answers"] != ["2400"]:
    print("FAIL gsm8k: the answer's thousands separator is not dropped")
    fails += 1
print("PASS" if not fails else "FAIL")
sys.exit(1 if fails else 0)
