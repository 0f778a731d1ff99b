"""Writes the small stand-in datasets the recipes suite serves from a loopback dataset viewer
(tests/integration/datasets_server.py) in place of the Hub datasets the recipes name. The rows
are made up here (no real data is downloaded or copied); only their columns and value types
follow the real datasets:

  glue.mrpc.validation.jsonl          sentence1, sentence2 (strings), label (0 / 1), idx
  facebook--xnli.en.validation.jsonl  premise, hypothesis (strings), label (0 / 1 / 2)
  Salesforce--wikitext.wikitext-2-raw-v1.train.jsonl  text (lines of made-up prose, some empty, as
      wikitext's are): Gptq's default calibration data when a config gives none
  allenai--ai2_arc.ARC-Easy.test.jsonl  id, question, choices {text: [...], label: ["A".."D"]},
                                        answerKey (lm-eval's arc_easy, for LMEvaluator)
  Rowan--hellaswag.default.validation.jsonl  activity_label, ctx_a, ctx_b, ctx, endings (4 strings),
                                        label ("0".."3") (lm-eval's hellaswag)

A file is named <dataset, '/' written '--'>.<config>.<split>.jsonl.

    python make_datasets.py
"""
import json
import pathlib
import random

HERE = pathlib.Path(__file__).resolve().parent
ROWS = 20
SUBJECTS = ["The company", "A spokesman", "The council", "Our team", "The old bridge", "Shares of the firm",
            "The new library", "A small boat", "The committee", "Local farmers"]
VERBS = ["reported", "announced", "expected", "denied", "confirmed", "planned", "delayed", "approved"]
OBJECTS = ["higher profits this quarter", "a change in the schedule", "the opening of a second office",
           "repairs to the north road", "a rise in water levels", "new rules for visitors",
           "a record harvest", "the sale of its main building"]


def sentence(rng):
    return f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} on {rng.choice(['Monday', 'Friday', 'Sunday'])}."


def mrpc(rng):
    rows = []
    for i in range(ROWS):
        s1 = sentence(rng)
        same = i % 3 != 0
        s2 = s1.replace(" on ", " late on ") if same else sentence(rng)
        rows.append({"sentence1": s1, "sentence2": s2, "label": int(same), "idx": i})
    return rows


def xnli(rng):
    rows = []
    for i in range(ROWS):
        premise = sentence(rng)
        label = i % 3  # entailment, neutral, contradiction
        verb = next(v for v in VERBS if f" {v} " in premise)
        hypothesis = [premise.split(" on ")[0] + ".", sentence(rng), premise.replace(verb, "never " + verb)][label]
        rows.append({"premise": premise, "hypothesis": hypothesis, "label": label})
    return rows


def wikitext(rng):
    rows = []
    for i in range(60):
        rows.append({"text": "" if i % 4 == 0 else " ".join(sentence(rng) for _ in range(3)) + " \n"})
    return rows


def arc(rng):
    rows = []
    for i in range(ROWS):
        subject, verb = rng.choice(SUBJECTS), rng.choice(VERBS)
        answer = rng.choice(OBJECTS)
        others = rng.sample([o for o in OBJECTS if o != answer], 3)
        gold = i % 4
        texts = others[:gold] + [answer] + others[gold:]
        rows.append({"id": f"arc-{i}", "question": f"What has {subject.lower()} {verb}?",
                     "choices": {"text": texts, "label": ["A", "B", "C", "D"]}, "answerKey": "ABCD"[gold]})
    return rows


def hellaswag(rng):
    rows = []
    for i in range(ROWS):
        subject = rng.choice(SUBJECTS)
        endings = [f"{rng.choice(VERBS)} {o}." for o in rng.sample(OBJECTS, 4)]
        rows.append({"ind": i, "activity_label": rng.choice(["Sailing", "Farming", "Reading", "Building"]),
                     "ctx_a": sentence(rng), "ctx_b": f"then {subject.lower()}",
                     "ctx": "", "endings": endings, "source_id": f"stand-in-{i}", "split": "val",
                     "split_type": "indomain", "label": str(i % 4)})
    return rows


def main():
    for name, make, seed in (("glue.mrpc.validation", mrpc, 1), ("facebook--xnli.en.validation", xnli, 2),
                             ("Salesforce--wikitext.wikitext-2-raw-v1.train", wikitext, 5),
                             ("allenai--ai2_arc.ARC-Easy.test", arc, 3),
                             ("Rowan--hellaswag.default.validation", hellaswag, 4)):
        rows = make(random.Random(seed))
        (HERE / (name + ".jsonl")).write_text("".join(json.dumps(r) + "\n" for r in rows))


if __name__ == "__main__":
    main()
