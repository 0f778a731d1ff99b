"""Perplexity references from transformers for the tiny llama checkpoint (tests/data/convert/llama)
on the token windows Olive's text generation pre-processing made (data_refs.json): per window
the logits of LlamaForCausalLM, scored as Olive's perplexity metric scores them (logits[:-1]
against labels[1:], labels -100 ignored, exp of the mean over all scored tokens).

Run in the fixture environment (torch, transformers); writes ppl_refs.json beside this script.
"""
import json
import pathlib

import torch
import transformers

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[2]

refs = json.loads((HERE / "data_refs.json").read_text())
model = transformers.AutoModelForCausalLM.from_pretrained(str(ROOT / "tests/data/convert/llama"),
                                                          dtype=torch.float32).eval()
out = {"transformers": transformers.__version__, "cases": []}
for i, case in enumerate(refs["text_generation"]):
    e = case["expected"]
    ids = torch.tensor(e["input_ids"])
    mask = torch.tensor(e["attention_mask"])
    labels = torch.tensor(e["labels"])
    nll, count = 0.0, 0
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=mask).logits.double()
    logp = torch.log_softmax(logits[:, :-1, :], dim=-1)
    tgt = labels[:, 1:]
    keep = tgt != -100
    picked = logp.gather(-1, tgt.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    nll = -(picked[keep]).sum().item()
    count = int(keep.sum())
    out["cases"].append({"text_generation_case": i, "params": case["params"], "tokens": count,
                         "perplexity": float(torch.exp(torch.tensor(nll / count)))})
(HERE / "ppl_refs.json").write_text(json.dumps(out, indent=1) + "\n")
print(out)
