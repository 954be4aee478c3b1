"""A word -> synonyms dict built from the offline WordNet 3.0 data files."""

import functools
import numbers
import os
import re

from keras_ssl.datasets import wordnet

# Adjective lemmas may carry a syntactic marker: "outback(a)", "galore(ip)".
_MARKER = re.compile(r"\((?:a|p|ip)\)$")


def wordnet_synonyms(data_dir=None, pos=None, max_synonyms=8):
    """Builds a `{word: [synonym, ...]}` dict from WordNet 3.0.

    The synonyms of a word are the other lemmas of the synsets it belongs
    to. Only single-word lemmas are used: multiword lemmas (written with
    underscores in WordNet, e.g. `domestic_dog`) are skipped, both as words
    and as synonyms, so that a replacement never changes the number of
    words. Lemmas are lowercased (`Canis` -> `canis`) and adjective markers
    such as `(a)` or `(p)` are removed. A word's synonyms are ordered by the
    number of synsets it shares with them (most first), then by first
    appearance in the files (parts of speech in the order noun, verb, adj,
    adv), and cut to `max_synonyms`. Words without any single-word synonym
    are left out.

    The `data.{noun,verb,adj,adv}` files are looked for as in
    `load_wordnet`: in `data_dir`, the directory in the environment variable
    `KERAS_SSL_WORDNET_DIR`, `/usr/share/wordnet` (Debian `wordnet-base`),
    then `~/nltk_data/corpora/wordnet`.

    Args:
        data_dir: Optional directory holding the WordNet `data.*` files.
        pos: `None` for all parts of speech, or one of (or a tuple of)
            `"noun"`, `"verb"`, `"adj"`, `"adv"`.
        max_synonyms: most synonyms kept per word, an int >= 1, or `None`
            for all of them.

    Returns:
        A dict from lowercase word to a list of lowercase synonyms, with
        the words in alphabetical order; ready for
        `keras_ssl.augmentation.SynonymReplacement`.

    Example:

    >>> synonyms = wordnet_synonyms(pos="adj")
    >>> synonyms["quick"][:3]
    ['agile', 'nimble', 'spry']
    """
    if max_synonyms is not None and (
        not isinstance(max_synonyms, numbers.Integral)
        or isinstance(max_synonyms, bool)
        or max_synonyms < 1
    ):
        raise ValueError(
            "Argument `max_synonyms` must be an int >= 1 or None. "
            f"Received: max_synonyms={max_synonyms!r}"
        )
    parts = wordnet._normalize_pos(pos)
    directory = wordnet.find_data_dir(parts, data_dir)

    # word -> {synonym: number of shared synsets}, in order of first sight.
    shared = {}
    for part in parts:
        path = os.path.join(directory, f"data.{part}")
        for lemmas in _synset_lemmas(path, os.stat(path).st_mtime_ns):
            for word in lemmas:
                counts = shared.setdefault(word, {})
                for other in lemmas:
                    if other != word:
                        counts[other] = counts.get(other, 0) + 1
    synonyms = {}
    for word in sorted(shared):
        ranked = sorted(shared[word], key=shared[word].get, reverse=True)
        if ranked:
            synonyms[word] = ranked[:max_synonyms]
    return synonyms


@functools.lru_cache(maxsize=16)
def _synset_lemmas(path, mtime_ns):
    """The single-word lemmas of each synset of one `data.<pos>` file.

    Returns a tuple (one entry per synset with at least two such lemmas) of
    tuples of distinct lowercase lemmas; cached per (path, modification
    time).
    """
    del mtime_ns  # Only part of the cache key.
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = f.read().split("\n")
    synsets = []
    for line_number, line in enumerate(lines, start=1):
        if not line.strip() or line.startswith("  "):  # Licence header.
            continue
        fields = line.partition(" | ")[0].split(" ")
        try:
            count = int(fields[3], 16)
            words = fields[4 : 4 + 2 * count : 2]
            if len(fields[0]) != 8 or count < 1 or len(words) != count:
                raise ValueError
        except (ValueError, IndexError):
            raise ValueError(
                f"Malformed WordNet synset line in {path!r}, line {line_number}: "
                f"{line[:60]!r}. Expected 'offset lex_filenum ss_type w_cnt "
                "word lex_id ... | gloss'."
            ) from None
        lemmas = []
        for word in words:
            word = _MARKER.sub("", word).lower()
            if "_" not in word and word not in lemmas:
                lemmas.append(word)
        if len(lemmas) > 1:
            synsets.append(tuple(lemmas))
    return tuple(synsets)
