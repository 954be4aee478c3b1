"""Sentence pairs for BERT's next-sentence prediction."""

import dataclasses
import logging
import numbers
import re

import numpy as np

logger = logging.getLogger("keras_ssl")

# Characters stripped from both ends of a sentence, besides whitespace
# (WordNet usage examples are quoted: `; "the dog barked"`).
_QUOTES = '"“”'
# A split after `.`, `!` or `?` (optionally closing a quote), before a
# capital letter or digit (optionally opening a quote or parenthesis).
_SENTENCE_END = re.compile(
    r"(?<=[.!?])\s+(?=[\"“(]?[A-Z0-9])|(?<=[.!?][\"”])\s+(?=[\"“(]?[A-Z0-9])"
)
# Fragments ending like this are not sentences: initials ("Robert E. Lee",
# "U.S. Army") and common abbreviations; they are joined to the next one.
_ABBREVIATION = re.compile(
    r"(?:^|[\s(.])(?:[A-Za-z]|e\.g|i\.e|etc|vs|cf|ca|Mr|Mrs|Ms|Dr|St|Jr|Sr"
    r"|Prof|No|Mt|Ft|Gen|Col|Capt|Lt|Sgt|Rev|Gov|Sen|Rep)\.$"
)
_WORD = re.compile(r"\w")


def _check_separators(separators):
    if isinstance(separators, str):
        separators = (separators,)
    try:
        separators = tuple(separators)
    except TypeError:
        separators = (separators,)
    if not all(isinstance(s, str) and s for s in separators):
        raise ValueError(
            "Argument `separators` must be a sequence of non-empty strings. "
            f"Received: separators={separators!r}"
        )
    return separators


def _strip_quotes(sentence):
    """Strips whitespace, and the quotes around a quoted sentence."""
    sentence = sentence.strip()
    quotes = sum(sentence.count(q) for q in _QUOTES)
    if not sentence or not quotes:
        return sentence
    if quotes == 2 and sentence[0] in _QUOTES and sentence[-1] in _QUOTES:
        sentence = sentence[1:-1]  # '"the dog barked"'
    elif quotes % 2 and sentence[0] in _QUOTES:
        sentence = sentence[1:]  # '"the dog', a quote split at a separator
    elif quotes % 2 and sentence[-1] in _QUOTES:
        sentence = sentence[:-1]
    return sentence.strip()


def _split(document, separators, sentence_end):
    if separators:
        pattern = "|".join(re.escape(s) for s in separators)
        pieces = re.split(pattern, document)
    else:
        pieces = [document]
    sentences = []
    for piece in pieces:
        fragments = _SENTENCE_END.split(piece) if sentence_end else [piece]
        merged = []
        for fragment in fragments:
            if merged and _ABBREVIATION.search(merged[-1]):
                merged[-1] = f"{merged[-1]} {fragment}"
            else:
                merged.append(fragment)
        for sentence in merged:
            sentence = _strip_quotes(sentence)
            if _WORD.search(sentence):
                sentences.append(sentence)
    return sentences


def split_sentences(document, separators=(";",), sentence_end=True):
    """Splits a document into sentences.

    Splits at every separator (by default `;`, which separates the
    definition from the usage examples in WordNet glosses) and, with
    `sentence_end=True`, after `.`, `!` or `?` followed by whitespace and a
    capital letter or digit (ordinary prose). Initials and common
    abbreviations (`"Robert E. Lee"`, `"U.S. Army"`, `"Dr. No"`) do not end
    a sentence. Each sentence is stripped of whitespace and of the double
    quotes around it (`'"the dog barked"'` gives `'the dog barked'`, while
    `'"Why?" she asked.'` keeps its quotes); pieces without a letter or
    digit are dropped.

    Args:
        document: a `str`.
        separators: strings that always end a sentence.
        sentence_end: also split after sentence-final punctuation.

    Returns:
        A list of `str`, possibly empty.

    Example:

    >>> split_sentences('make a loud noise; "the dog barked"; "he barks"')
    ['make a loud noise', 'the dog barked', 'he barks']
    >>> split_sentences("It rained. We stayed in.")
    ['It rained.', 'We stayed in.']
    """
    if not isinstance(document, str):
        raise ValueError(
            "Argument `document` must be a str. Received: "
            f"document={document!r} of type {type(document).__name__}"
        )
    return _split(document, _check_separators(separators), sentence_end)


@dataclasses.dataclass(eq=False)
class SentencePairs:
    """Sentence pairs for next-sentence prediction (`make_sentence_pairs`).

    Attributes:
        first: object array of `str`, the first sentences.
        second: object array of `str`, the second sentences.
        is_next: int32 array, 1 where `second` follows `first` in its
            document, 0 where it was drawn from another document.
        first_document: int64 index into `documents` of each first sentence.
        second_document: int64 index of the document of each second sentence.
        num_skipped: documents with fewer than two sentences (not used).
        num_documents: documents received.
    """

    first: np.ndarray
    second: np.ndarray
    is_next: np.ndarray
    first_document: np.ndarray
    second_document: np.ndarray
    num_skipped: int
    num_documents: int

    def __len__(self):
        return len(self.first)

    def __repr__(self):
        return (
            f"SentencePairs(n={len(self)}, is_next={int(self.is_next.sum())}, "
            f"num_documents={self.num_documents}, num_skipped={self.num_skipped})"
        )


def _check_documents(documents):
    if isinstance(documents, str | bytes):
        raise ValueError(
            "Argument `documents` must be a sequence of strings, not one "
            f"string. Received: documents={documents[:40]!r}"
        )
    if isinstance(documents, np.ndarray) and documents.ndim != 1:
        raise ValueError(
            "Argument `documents` must be a 1-D sequence of strings. "
            f"Received: documents with shape {documents.shape}"
        )
    try:
        documents = list(documents)
    except TypeError:
        raise ValueError(
            "Argument `documents` must be a sequence of strings. Received: "
            f"documents of type {type(documents).__name__}"
        ) from None
    if not documents:
        raise ValueError(
            "Argument `documents` must be a non-empty sequence of strings. "
            "Received: 0 documents"
        )
    bad = [i for i, d in enumerate(documents) if not isinstance(d, str)]
    if bad:
        i = bad[0]
        raise ValueError(
            "Argument `documents` must hold strings. Received: "
            f"{len(bad)} of {len(documents)} items that are not; the first is "
            f"documents[{i}]={documents[i]!r} of type {type(documents[i]).__name__}"
        )
    return documents


def _object_array(values):
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


def _draw_other(rng, pool_document, exclude):
    """For each `exclude[k]`, a pool index whose document differs from it."""
    drawn = rng.integers(len(pool_document), size=len(exclude))
    for _ in range(64):
        clash = np.flatnonzero(pool_document[drawn] == exclude)
        if clash.size == 0:
            return drawn
        drawn[clash] = rng.integers(len(pool_document), size=clash.size)
    # A few documents hold most of the pool: draw the rest exactly.
    for k in np.flatnonzero(pool_document[drawn] == exclude):
        drawn[k] = rng.choice(np.flatnonzero(pool_document != exclude[k]))
    return drawn


def make_sentence_pairs(
    documents, seed=0, next_fraction=0.5, separators=(";",), sentence_end=True
):
    """Builds the sentence pairs of BERT's next-sentence prediction.

    Every document is split into sentences with `split_sentences`; each
    pair of consecutive sentences `(s[i], s[i + 1])` of a document gives one
    example whose first sentence is `s[i]`. With probability `next_fraction`
    the second sentence is `s[i + 1]` (`is_next=1`); otherwise it is drawn
    uniformly from the second-or-later sentences of the *other* documents
    (`is_next=0`). Drawing random seconds from the same kind of sentence as
    the true ones (never a document's first sentence: in WordNet glosses,
    never a definition when the true next is a usage example) means the
    second sentence alone does not give the label away: the model has to
    relate it to the first one.

    Documents with fewer than two sentences give no example; their number
    is logged (logger `"keras_ssl"`, level INFO) and returned as
    `num_skipped`. For the 117,659 WordNet glosses, about 46,000 contain a
    `;`. Examples come in document order: shuffle them for training.

    Args:
        documents: sequence of `str`.
        seed: seed of the random draws (same seed, same pairs).
        next_fraction: probability of a true next sentence, in `[0, 1]`.
        separators: see `split_sentences`.
        sentence_end: see `split_sentences`.

    Returns:
        A `SentencePairs` with `first`, `second` (object arrays of `str`),
        `is_next` (int32), `first_document`, `second_document`,
        `num_skipped` and `num_documents`. Pack them with
        `TextPreprocessor.pack_pair(first, second)`.

    Example:

    >>> pairs = make_sentence_pairs(
    ...     ["It rained. We stayed in.", "The cat sat. It purred. It slept."],
    ...     seed=0)
    >>> len(pairs.first) == len(pairs.second) == len(pairs.is_next)
    True
    >>> ids = preprocessor.pack_pair(pairs.first, pairs.second)  # doctest: +SKIP
    >>> model.fit({"token_ids": ids,  # doctest: +SKIP
    ...            "next_sentence_label": pairs.is_next})

    Reference:
        [Devlin et al., 2019](https://arxiv.org/abs/1810.04805)
    """
    documents = _check_documents(documents)
    if (
        not isinstance(next_fraction, numbers.Real)
        or isinstance(next_fraction, bool)
        or not 0 <= next_fraction <= 1
    ):
        raise ValueError(
            "Argument `next_fraction` must be a number in [0, 1]. "
            f"Received: next_fraction={next_fraction!r}"
        )
    if seed is not None and (
        not isinstance(seed, numbers.Integral) or isinstance(seed, bool)
    ):
        raise ValueError(f"Argument `seed` must be an int or None. Received: {seed!r}")
    separators = _check_separators(separators)
    sentences = [_split(d, separators, sentence_end) for d in documents]
    counts = np.array([len(s) for s in sentences], dtype=np.int64)
    eligible = np.flatnonzero(counts >= 2)
    num_skipped = len(documents) - len(eligible)
    if len(eligible) == 0:
        raise ValueError(
            "Argument `documents` must contain documents of at least two "
            f"sentences each. Received: {len(documents)} documents, none of "
            f"which splits into 2 or more sentences (separators={separators!r}, "
            f"sentence_end={sentence_end})"
        )
    if len(eligible) < 2 and next_fraction < 1:
        raise ValueError(
            "Argument `documents` must contain at least two documents of two "
            "or more sentences: random second sentences come from a different "
            f"document. Received: {len(documents)} documents, 1 with two or "
            "more sentences. Pass more documents, or next_fraction=1.0"
        )
    if num_skipped:
        logger.info(
            "Sentence pairs: skipped %d of %d documents with fewer than two sentences.",
            num_skipped,
            len(documents),
        )
    # One example per consecutive pair: (document, position of the first).
    document = np.repeat(eligible, counts[eligible] - 1)
    starts = np.cumsum(counts[eligible] - 1) - (counts[eligible] - 1)
    position = np.arange(len(document)) - np.repeat(starts, counts[eligible] - 1)
    # The true second sentences are also the pool of random ones.
    pool_document, pool_position = document, position + 1

    rng = np.random.default_rng(seed)
    is_next = rng.random(len(document)) < next_fraction
    second_document = document.copy()
    second_position = position + 1
    random = np.flatnonzero(~is_next)
    if random.size:
        drawn = _draw_other(rng, pool_document, document[random])
        second_document[random] = pool_document[drawn]
        second_position[random] = pool_position[drawn]

    first = [sentences[d][p] for d, p in zip(document, position)]
    second = [sentences[d][p] for d, p in zip(second_document, second_position)]
    return SentencePairs(
        first=_object_array(first),
        second=_object_array(second),
        is_next=is_next.astype(np.int32),
        first_document=document.astype(np.int64),
        second_document=second_document.astype(np.int64),
        num_skipped=int(num_skipped),
        num_documents=len(documents),
    )
