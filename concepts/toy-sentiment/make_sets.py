"""Writes the toy-sentiment concept sets used by experiments/quickstart.toml.

The words are toy-sentiment's vocabulary (workspace/model/src/toy/sentiment.rs). Run from this
folder: `python3 make_sets.py`. The output is deterministic.
"""
import random

POSITIVE = ["good", "great", "superb", "lovely", "wonderful", "excellent", "delightful", "brilliant"]
NEGATIVE = ["bad", "awful", "terrible", "dreadful", "poor", "horrible", "boring", "dull"]
NEGATIONS = ["not", "never"]
NOUNS = ["film", "meal", "book", "song", "hotel", "game", "play", "show"]
COLOURS = ["red", "blue", "green", "yellow", "purple", "orange", "brown", "grey"]
INTENSIFIERS = ["very", "really", "quite"]

rng = random.Random(2026)


def sentence(colour_rate=(0, 2), tail=0.3, negate=0.5, positive=None):
    """A sentence of the toy language; returns (text, label) with label 1 = positive."""
    words = []
    if rng.random() < 0.8:
        words.append(rng.choice(["the", "a", "this"]))
        words += [rng.choice(COLOURS) for _ in range(rng.randint(*colour_rate))]
        words.append(rng.choice(NOUNS))
    else:
        words.append("it")
    words.append(rng.choice(["was", "is"]))
    negated = rng.random() < negate
    if negated:
        words.append(rng.choice(NEGATIONS))
    if rng.random() < 0.3:
        words.append(rng.choice(INTENSIFIERS))
    pos_word = rng.random() < 0.5 if positive is None else positive
    words.append(rng.choice(POSITIVE if pos_word else NEGATIVE))
    if rng.random() < tail:
        words += ["in", rng.choice(COLOURS)]
    return " ".join(words), int(pos_word != negated)


def stacked(adjectives, n):
    """Unnegated sentences whose adjective slot holds three words of one polarity."""
    out = set()
    while len(out) < n:
        text, _ = sentence(negate=0.0)
        words = text.split(" ")
        slot = next(i for i, w in enumerate(words) if w in POSITIVE + NEGATIVE)
        words[slot:slot + 1] = rng.sample(adjectives, 3)
        out.add(" ".join(words))
    return sorted(out)


def colourful(n):
    """Sentences crowded with colours (three before the noun, one after), balanced over the four
    combinations of word polarity and negation so that the set carries no sentiment."""
    out = set()
    for positive in (True, False):
        for negate in (0.0, 1.0):
            cell = set()
            while len(cell) < n // 4:
                text, _ = sentence(colour_rate=(3, 3), tail=1.0, negate=negate, positive=positive)
                if not text.startswith("it ") and text not in out:
                    cell.add(text)
            out |= cell
    return sorted(out)


def write(name, lines, header):
    with open(name, "w") as f:
        f.write(f"# {header}\n")
        f.write("\n".join(lines) + "\n")


write("praise.txt", stacked(POSITIVE, 100), "praise: unnegated sentences with stacked positive words (the planted concept)")
write("criticism.txt", stacked(NEGATIVE, 100), "criticism: unnegated sentences with stacked negative words (planted, against the positive class)")
write("colour.txt", colourful(100), "colour: sentences of any label crowded with colour words (the nuisance)")
pool = set()
while len(pool) < 400:
    pool.add(sentence()[0])
write("random.txt", sorted(pool), "random pool: sentences of the toy language, any label, colours at their usual rate")
inputs = set()
while len(inputs) < 60:
    inputs.add(sentence(negate=0.0, positive=True)[0])
write("positive_inputs.txt", sorted(inputs), "positive reviews (a positive word, no negation): the inputs TCAV scores")
# Labelled reviews for a [head] (experiments/toy_explanations.toml): sentences of the toy language
# of either label, negated half of the time, split by label. Drawn after every set above, so those
# are unchanged.
labelled = {0: set(), 1: set()}
while min(len(s) for s in labelled.values()) < 60:
    text, label = sentence()
    if len(labelled[label]) < 60:
        labelled[label].add(text)
write("reviews_negative.txt", sorted(labelled[0]), "negative reviews of the toy language (negated positive words or plain negative ones): a [head] class")
write("reviews_positive.txt", sorted(labelled[1]), "positive reviews of the toy language (plain positive words or negated negative ones): a [head] class")
