"""The reference LSTM model in PyTorch on CPU, for `pnpm bench workers` (bench/src/torch.ts).

Embedding(10000, 64) -> LSTM(128, sequences) -> LSTM(64) -> Dense(1, sigmoid), binary
cross-entropy, Adam(1e-3), global batch 64 of 100 random tokens: what Adamant's reference job
trains. With --processes 1 it trains in this process; with 2, DistributedDataParallel over gloo on
127.0.0.1, each process a half batch with one thread. Prints one JSON line: {"tokensPerSecond": x}.
Needs Debian's python3-torch; the benchmark skips its rows where `import torch` fails.
"""
import argparse
import json
import os
import socket
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

VOCABULARY, EMBEDDING, LENGTH, BATCH = 10000, 64, 100, 64


class Reference(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(VOCABULARY, EMBEDDING)
        self.first = nn.LSTM(EMBEDDING, 128, batch_first=True)
        self.second = nn.LSTM(128, 64, batch_first=True)
        self.head = nn.Linear(64, 1)

    def forward(self, tokens):
        sequences, _ = self.first(self.embedding(tokens))
        _, (last, _) = self.second(sequences)
        # The sigmoid is inside the loss (BCEWithLogitsLoss), as stable as Keras's clipped one.
        return self.head(last[-1]).squeeze(1)


def train_seconds(model, batches, rows, seed):
    """Seconds for `batches` steps of `rows` samples each, after one warm-up step."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randint(0, VOCABULARY, (batches, rows, LENGTH), generator=generator)
    y = (torch.rand(batches, rows, generator=generator) < 0.4).float()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_of = nn.BCEWithLogitsLoss()

    def step(b):
        optimizer.zero_grad()
        loss_of(model(x[b]), y[b]).backward()
        optimizer.step()

    step(0)
    started = time.perf_counter()
    for b in range(batches):
        step(b)
    return time.perf_counter() - started


def ddp_process(rank, world, port, batches):
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.manual_seed(1)
    model = nn.parallel.DistributedDataParallel(Reference())
    seconds = torch.tensor([train_seconds(model, batches, BATCH // world, rank + 1)])
    # The slower process sets the pace of a synchronous step.
    dist.all_reduce(seconds, op=dist.ReduceOp.MAX)
    if rank == 0:
        print(json.dumps({"tokensPerSecond": batches * BATCH * LENGTH / seconds.item()}), flush=True)
    dist.destroy_process_group()


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, choices=[1, 2], default=1)
    parser.add_argument("--batches", type=int, default=30)
    args = parser.parse_args()
    if args.processes == 1:
        torch.manual_seed(1)
        seconds = train_seconds(Reference(), args.batches, BATCH, 1)
        print(json.dumps({"tokensPerSecond": args.batches * BATCH * LENGTH / seconds}), flush=True)
    else:
        mp.spawn(ddp_process, args=(args.processes, free_port(), args.batches), nprocs=args.processes)


if __name__ == "__main__":
    main()
