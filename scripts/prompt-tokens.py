#!/usr/bin/env python3
"""Counts the tokens of TrailGuard's log prompts and the guide's prompts with a model's own
tokenizer, rebuilt from a GGUF file (vocabulary, merges, pre-tokenizer), without loading the
model. Calibrates `trailguard_core::ask::approx_tokens` (BENCHMARKS.md, "Log-analysis prompt size").

    TRAILGUARD_PROMPT_DUMP=/tmp/prompts.jsonl cargo test -p trailguard-triage --test prompt_size
    pip install gguf regex          # PyPI: the GGUF reader and Unicode-class regexes
    python3 scripts/prompt-tokens.py /tmp/prompts.jsonl ~/.cache/trailguard/models/qwen2.5-1.5b/*.gguf

Byte-level BPE with the Qwen2 pre-tokenizer (digits one by one); other GGUF tokenizers fall back
to GPT-2's pre-tokenizer, so their counts are indicative only.
"""
import collections
import functools
import json
import sys

import gguf
import regex

PRE_TOKENIZERS = {
    "qwen2": r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+""",
    "gpt2": r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""",
}


def byte_alphabet():
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    codes = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return dict(zip(printable, map(chr, codes)))


class Tokenizer:
    def __init__(self, path):
        fields = gguf.GGUFReader(path).fields

        def strings(name):
            field = fields[name]
            return [bytes(field.parts[i]).decode("utf-8") for i in field.data]

        self.pre = strings("tokenizer.ggml.pre")[0] if "tokenizer.ggml.pre" in fields else "gpt2"
        self.ranks = {tuple(m.split(" ", 1)): i for i, m in enumerate(strings("tokenizer.ggml.merges"))}
        self.pattern = regex.compile(PRE_TOKENIZERS.get(self.pre, PRE_TOKENIZERS["gpt2"]))
        self.alphabet = byte_alphabet()

    @functools.lru_cache(maxsize=None)
    def pieces(self, word):
        parts = list(word)
        while len(parts) > 1:
            ranked = [(self.ranks.get((a, b)), i) for i, (a, b) in enumerate(zip(parts, parts[1:]))]
            ranked = [r for r in ranked if r[0] is not None]
            if not ranked:
                break
            _, i = min(ranked)
            parts = parts[:i] + [parts[i] + parts[i + 1]] + parts[i + 2:]
        return len(parts)

    def count(self, text):
        return sum(self.pieces("".join(self.alphabet[b] for b in piece.encode("utf-8")))
                   for piece in self.pattern.findall(text))


def main(dump, model):
    tokenizer = Tokenizer(model)
    totals = collections.defaultdict(lambda: [0, 0, 0, 0, 0])
    for line in open(dump, encoding="utf-8"):
        row = json.loads(line)
        total = totals[row["language"]]
        total[0] += tokenizer.count(row["compact"])
        total[1] += tokenizer.count(row["guide"])
        total[2] += row["approx_compact"]
        total[3] += row["approx_guide"]
        total[4] += 1
    print(f"tokenizer: {model} (pre-tokenizer {tokenizer.pre})")
    for language, (compact, guide, approx_compact, approx_guide, events) in sorted(totals.items()):
        print(f"{language}: {events} events; tokens per event: compact {compact / events:.0f}, guide {guide / events:.0f}, "
              f"ratio {compact / guide:.3f}; approx_tokens/real: compact {approx_compact / compact:.2f}, guide {approx_guide / guide:.2f}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
