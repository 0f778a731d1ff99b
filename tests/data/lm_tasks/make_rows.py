"""Writes the tiny rows the LMEvaluator tests serve from a loopback dataset viewer
(tests/integration/datasets_server.py) in place of the Hub datasets lm-eval's tasks read. The
rows are made up here (no real data); their columns and value types follow the real datasets:

  allenai--ai2_arc.ARC-Easy.test.jsonl       id, question, choices {text, label}, answerKey
  Rowan--hellaswag.default.validation.jsonl  activity_label, ctx_a, ctx_b, endings, label ("0".."3")
  aps--super_glue.boolq.validation.jsonl     question, passage, idx, label (0 / 1)
  allenai--winogrande.winogrande_xl.validation.jsonl  sentence, option1, option2, answer ("1" / "2")
  EleutherAI--lambada_openai.default.test.jsonl       text

Some rows carry what the tasks' preprocessing must handle: HellaSwag's WikiHow brackets, " [title]"
and a ctx_b in mixed case; ARC labels written as digits; a question that ends in a space.

A file is named <dataset, '/' written '--'>.<config>.<split>.jsonl.

    python make_rows.py
"""
import json
import pathlib

HERE = pathlib.Path(__file__).resolve().parent

ARC = [
    {"id": "q1", "question": "Which animal lives in the sea?",
     "choices": {"text": ["a cow", "a fish", "a goat", "a hen"], "label": ["A", "B", "C", "D"]}, "answerKey": "B"},
    {"id": "q2", "question": "What melts ice? ",
     "choices": {"text": ["heat", "cold", "dark"], "label": ["1", "2", "3"]}, "answerKey": "1"},
    {"id": "q3", "question": "Where does the sun rise?",
     "choices": {"text": ["in the west", "in the north", "in the east", "in the south"],
                 "label": ["A", "B", "C", "D"]}, "answerKey": "C"},
    {"id": "q4", "question": "What do plants need to grow?",
     "choices": {"text": ["light and water", "stones", "plastic", "noise"], "label": ["A", "B", "C", "D"]},
     "answerKey": "A"},
]

HELLASWAG = [
    {"ind": 1, "activity_label": "Baking cookies", "ctx_a": "A woman mixes flour in a bowl.",
     "ctx_b": "then, SHE", "ctx": "", "endings": ["puts the bowl in the oven.", "sings to the bowl.",
                                                 "throws  the bowl away.", "paints the bowl red."],
     "source_id": "x", "split": "val", "split_type": "indomain", "label": "0"},
    {"ind": 2, "activity_label": "Home and Garden", "ctx_a": "[header] How to water a plant [title] Fill a can.",
     "ctx_b": "[step] pour the water slowly.", "ctx": "",
     "endings": ["[substeps] Stop when the soil is wet.", "Eat the plant.", "Sell the can [title] at a shop.",
                 "Water the road."],
     "source_id": "y", "split": "val", "split_type": "zeroshot", "label": "0"},
    {"ind": 3, "activity_label": "Running", "ctx_a": "A man ties his shoes.", "ctx_b": "he",
     "ctx": "", "endings": ["runs down the road.", "eats the shoes.", "flies away.", "sleeps on the track."],
     "source_id": "z", "split": "val", "split_type": "indomain", "label": "0"},
]

BOOLQ = [
    {"question": "is the sky blue on a clear day", "passage": "On a clear day the sky looks blue.", "idx": 0,
     "label": 1},
    {"question": "can a fish walk", "passage": "Fish swim in water and have no legs.", "idx": 1, "label": 0},
    {"question": "is ice cold", "passage": "Ice is frozen water and it is cold.", "idx": 2, "label": 1},
]

WINOGRANDE = [
    {"sentence": "The cup fell off the table because _ was wobbly.", "option1": "the cup", "option2": "the table",
     "answer": "2"},
    {"sentence": "Anna gave Beth a book because _ had finished reading it.", "option1": "Anna", "option2": "Beth",
     "answer": "1"},
]

LAMBADA = [
    {"text": "She opened the door and saw her old friend standing in the rain"},
    {"text": "He counted the coins twice before he paid the baker"},
    {"text": "Goodbye"},  # one word: an empty context, the prefix token alone
]

FILES = {
    "allenai--ai2_arc.ARC-Easy.test": ARC,
    "Rowan--hellaswag.default.validation": HELLASWAG,
    "aps--super_glue.boolq.validation": BOOLQ,
    "allenai--winogrande.winogrande_xl.validation": WINOGRANDE,
    "EleutherAI--lambada_openai.default.test": LAMBADA,
}


def main():
    for name, rows in FILES.items():
        (HERE / (name + ".jsonl")).write_text("".join(json.dumps(r) + "\n" for r in rows))


if __name__ == "__main__":
    main()
