#!/usr/bin/env python3
"""A discrete-event simulation of a search spread over a cluster, replaying the per-candidate
costs that bench/scale_costs.py measured.

Model (see docs/SCALE.md for what each assumption means):
- N nodes run one candidate at a time each; the driver hands a pending candidate to a free node,
  which starts it after the scheduler's dispatch latency (--dispatch-s).
- A candidate reads its input (the shared base model: verified on reuse, so read whole) from the
  shared file system, computes (quantize + evaluate + everything else the measured process did),
  then writes its new cache entries back. Durations and bytes are drawn from the measured
  candidates and scaled to a model of --model-gib (per-byte work scales with the bytes; the CLI's
  start does not).
- The shared file system moves --fs-gbps in total and each node's link --node-gbps: concurrent
  transfers share the bandwidth equally (processor sharing).
- The driver learns that a candidate finished at its next poll (--poll-s apart); a poll costs it
  --poll-cost-s plus --poll-cost-per-task-s for each task the scheduler lists, and each result
  --result-cost-s to read and record.

Prints, for each node count, the makespan, the throughput, how busy the shared file system and
the driver were, and the node count past which more nodes stop paying (the saturation point).

  .venv/bin/python bench/scale_sim.py [--costs bench/out/scale/costs.json] [--model synthetic_32mib]
      [--candidates 1000] [--nodes 1,10,100] [--model-gib 14] [--fs-gbps 10]
"""
import argparse
import heapq
import json
import os
import random
import statistics

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def scaled_candidates(costs, model, model_gib, eval_s):
    """Per-candidate (compute seconds, bytes read, bytes written, base model bytes) scaled to a
    model of model_gib."""
    m = costs["models"][model]
    start = costs["process_start_s"]
    k = model_gib * 2**30 / m["input_bytes"] if model_gib else 1.0
    out = []
    for c in m["candidates"]:
        evaluate = c["evaluate_s"] * k if eval_s is None else eval_s
        rest = max(0.0, c["wall_s"] - start - c["evaluate_s"])
        out.append((start + rest * k + evaluate, c["rchar"] * k, c["cache_bytes_written"] * k, m["input_bytes"] * k))
    return out, k


def simulate(n_nodes, n_cand, draws, a, seed):
    """Returns makespan, fs busy fraction, driver busy seconds, mean transfer seconds per candidate."""
    rng = random.Random(seed)
    fs_bw, node_bw = a.fs_gbps * 1e9 / 8, a.node_gbps * 1e9 / 8
    events = []  # (time, seq, kind, task)
    seq = 0

    def push(t, kind, task):
        nonlocal seq
        heapq.heappush(events, (t, seq, kind, task))
        seq += 1

    tasks = [dict(zip(("compute", "read", "write", "base"), rng.choice(draws))) for _ in range(n_cand)]
    pending = list(range(n_cand))
    pending.reverse()
    free_nodes, finished_unseen, done = list(range(n_nodes)), 0, 0
    has_base = set()  # nodes holding a verified local copy of the base model (--node-cache)
    transfers = {}  # task -> remaining bytes
    t, fs_busy, driver_busy, transfer_time = 0.0, 0.0, 0.0, 0.0
    started = {}

    def dispatch(now):
        while free_nodes and pending:
            k = pending.pop()
            tasks[k]["node"] = free_nodes.pop()
            push(now + a.dispatch_s, "start", k)

    dispatch(0.0)
    push(a.poll_s, "poll", None)
    while done < n_cand:
        # The next transfer to finish at the current sharing, against the next event.
        rate = min(node_bw, fs_bw / len(transfers)) if transfers else 0.0
        first = min(transfers, key=transfers.get) if transfers else None
        t_next_transfer = t + transfers[first] / rate if transfers else float("inf")
        t_event = events[0][0] if events else float("inf")
        t_new = min(t_next_transfer, t_event)
        if transfers:
            moved = rate * (t_new - t)
            for k in transfers:
                transfers[k] -= moved
            fs_busy += (t_new - t) * min(1.0, rate * len(transfers) / fs_bw)
        t = t_new
        if first is not None and t_next_transfer <= t_event:
            transfers[first] = 0.0  # exactly, whatever the rounding of the times
        for k in [k for k, left in transfers.items() if left <= 1.0]:
            del transfers[k]
            transfer_time += t - started.pop(k)
            phase = tasks[k].get("phase")
            if phase == "read":
                tasks[k]["phase"] = "compute"
                push(t + tasks[k]["compute"], "computed", k)
            else:
                finished_unseen += 1
                free_nodes.append(tasks[k]["node"])  # free; the driver sees the result at its next poll
                dispatch(t)
        if t_event <= t_new and events:
            _, _, kind, k = heapq.heappop(events)
            if kind == "start":
                tasks[k]["phase"] = "read"
                read = tasks[k]["read"]
                if a.node_cache and tasks[k]["node"] in has_base:
                    read = max(0.0, read - tasks[k]["base"])
                has_base.add(tasks[k]["node"])
                transfers[k], started[k] = max(1.0, read), t
            elif kind == "computed":
                tasks[k]["phase"] = "write"
                transfers[k], started[k] = max(1.0, tasks[k]["write"]), t
            elif kind == "poll":
                listed = n_nodes + len(pending)
                driver_busy += a.poll_cost_s + a.poll_cost_per_task_s * listed + a.result_cost_s * finished_unseen
                done += finished_unseen
                finished_unseen = 0
                if done < n_cand:
                    push(t + a.poll_s, "poll", None)
    return t, fs_busy / t if t else 0.0, driver_busy, transfer_time / n_cand


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--costs", default=os.path.join(REPO, "bench", "out", "scale", "costs.json"))
    ap.add_argument("--model", help="which measured model to replay (default: the synthetic one)")
    ap.add_argument("--candidates", type=int, default=1000)
    ap.add_argument("--nodes", default="1,2,5,10,20,50,100,200,500")
    ap.add_argument("--model-gib", type=float, default=14.0,
                    help="scale per-byte costs to a base model of this size (0: as measured); 14 GiB is a 7B in fp16")
    ap.add_argument("--eval-s", type=float, help="replace the scaled evaluation time per candidate")
    ap.add_argument("--fs-gbps", type=float, default=10.0, help="shared file system bandwidth, Gbit/s in total")
    ap.add_argument("--node-gbps", type=float, default=25.0, help="one node's link, Gbit/s")
    ap.add_argument("--dispatch-s", type=float, default=1.0, help="scheduler latency from submit to start")
    ap.add_argument("--poll-s", type=float, default=10.0, help="driver poll interval")
    ap.add_argument("--poll-cost-s", type=float, default=0.05, help="driver time per poll")
    ap.add_argument("--poll-cost-per-task-s", type=float, default=0.0002, help="driver time per listed task per poll")
    ap.add_argument("--result-cost-s", type=float, default=0.002, help="driver time to read and record one result")
    ap.add_argument("--node-cache", action="store_true",
                    help="each node reads the base model from the shared cache once and reuses a verified local copy")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    costs = json.load(open(a.costs))
    model = a.model or next(n for n in costs["models"] if n.startswith("synthetic"))
    draws, k = scaled_candidates(costs, model, a.model_gib, a.eval_s)
    comp = statistics.mean(d[0] for d in draws)
    rd, wr = statistics.mean(d[1] for d in draws), statistics.mean(d[2] for d in draws)
    print(f"replaying {model} from {os.path.relpath(a.costs, REPO)} (measured with: {costs.get('command', '?')})")
    scale = f"scaled x{k:.1f} to a {a.model_gib:g} GiB base model" if a.model_gib else "as measured"
    print(f"{scale}: per candidate {comp:.1f} s of compute, "
          f"{rd / 2**30:.2f} GiB read, {wr / 2**30:.2f} GiB written (means)")
    fs_bound = a.fs_gbps * 1e9 / 8 / (rd + wr) * 3600
    print(f"file system bound: {fs_bound:.0f} candidates/h at {a.fs_gbps:g} Gbit/s; "
          f"one node alone: {3600 / (comp + a.dispatch_s + (rd + wr) / (min(a.fs_gbps, a.node_gbps) * 1e9 / 8)):.1f}/h")
    print(f"{'nodes':>6} {'makespan h':>11} {'cand/h':>9} {'speedup':>8} {'efficiency':>10} {'fs busy':>8} "
          f"{'xfer s/cand':>11} {'driver busy':>11}")
    base, prev, saturation = None, None, None
    for n in [int(x) for x in a.nodes.split(",")]:
        span, fs, driver, xfer = simulate(n, a.candidates, draws, a, a.seed)
        rate = a.candidates / span * 3600
        base = base or rate / n
        eff = rate / (n * base)
        print(f"{n:>6} {span / 3600:>11.2f} {rate:>9.1f} {rate / base:>8.1f} {eff:>9.0%} {fs:>8.0%} {xfer:>11.1f} "
              f"{driver / span:>10.2%}")
        if saturation is None and eff < 0.5:
            saturation = (prev, n)
        prev = n
    if saturation:
        print(f"saturation: efficiency falls under 50% between {saturation[0]} and {saturation[1]} nodes")
    else:
        print("saturation: not reached at these node counts (efficiency stays above 50%)")


if __name__ == "__main__":
    main()
