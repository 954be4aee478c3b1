"""WordNet 3.0 glosses labelled by lexicographer file (Debian `wordnet-base`)."""

import functools
import os
import zlib

import numpy as np

from keras_ssl.datasets import _paths
from keras_ssl.datasets.labeled_data import LabeledData

ENV_VAR = "KERAS_SSL_WORDNET_DIR"
DEFAULT_DIRS = ("/usr/share/wordnet", "~/nltk_data/corpora/wordnet")
POS = ("noun", "verb", "adj", "adv")
SPLITS = ("all", "train", "test")
# The 45 lexicographer files of WordNet 3.0, indexed by `lex_filenum`.
LEXNAMES = [
    "adj.all",
    "adj.pert",
    "adv.all",
    "noun.Tops",
    "noun.act",
    "noun.animal",
    "noun.artifact",
    "noun.attribute",
    "noun.body",
    "noun.cognition",
    "noun.communication",
    "noun.event",
    "noun.feeling",
    "noun.food",
    "noun.group",
    "noun.location",
    "noun.motive",
    "noun.object",
    "noun.person",
    "noun.phenomenon",
    "noun.plant",
    "noun.possession",
    "noun.process",
    "noun.quantity",
    "noun.relation",
    "noun.shape",
    "noun.state",
    "noun.substance",
    "noun.time",
    "verb.body",
    "verb.change",
    "verb.cognition",
    "verb.communication",
    "verb.competition",
    "verb.consumption",
    "verb.contact",
    "verb.creation",
    "verb.emotion",
    "verb.motion",
    "verb.perception",
    "verb.possession",
    "verb.social",
    "verb.stative",
    "verb.weather",
    "adj.ppl",
]
_POS_LETTER = {"noun": b"n", "verb": b"v", "adj": b"a", "adv": b"r"}


def find_data_dir(parts, data_dir=None):
    """The first candidate folder holding `data.<part>` for every part.

    Raises FileNotFoundError listing the folders searched and how to get
    the data.
    """
    candidates = _paths.candidate_dirs(data_dir, ENV_VAR, DEFAULT_DIRS)
    directory = next(
        (
            d
            for _, d in candidates
            if d and all(os.path.isfile(os.path.join(d, f"data.{p}")) for p in parts)
        ),
        None,
    )
    if directory is None:
        raise FileNotFoundError(
            f"Could not find the WordNet data files "
            f"({', '.join(f'data.{p}' for p in parts)}). Searched:\n"
            f"{_paths.searched_list(candidates)}\n"
            "To get the data, run `apt-get install wordnet-base` (Debian/Ubuntu), "
            f"or set {ENV_VAR} to a directory holding the WordNet 3.0 `data.*` "
            "files (or pass `data_dir=`)."
        )
    return directory


def load_wordnet(split="all", pos=None, data_dir=None):
    """Loads WordNet 3.0 glosses labelled by their semantic field.

    Each example is the gloss (definition and usage examples) of one synset;
    its label is the synset's lexicographer file, e.g. `noun.animal` or
    `verb.motion`. The split into train and test is fixed: a synset is in
    the test part when `zlib.crc32(pos_letter + offset) % 5 == 0` (about 20%),
    so it never changes between runs or machines.

    The `data.{noun,verb,adj,adv}` files are looked for, in order, in
    `data_dir`, the directory in the environment variable
    `KERAS_SSL_WORDNET_DIR`, the Debian package location
    `/usr/share/wordnet`, and the NLTK corpus `~/nltk_data/corpora/wordnet`.

    Args:
        split: `"all"` (117,659 synsets), `"train"` or `"test"`.
        pos: `None` for all parts of speech, or one of (or a tuple of)
            `"noun"`, `"verb"`, `"adj"`, `"adv"`.
        data_dir: Optional directory holding the WordNet `data.*` files.

    Returns:
        A `LabeledData` whose `x` is an object array of `str` glosses. With
        `pos=None`, `y` is the lexicographer file number (0..44) and
        `label_names` all 45 names. With `pos` given, labels are renumbered
        `0..K-1` over the lexicographer files that occur for those parts of
        speech, in lexicographer order (nouns: 26 classes, `noun.Tops` to
        `noun.time`).

    Example:

    >>> train = keras_ssl.datasets.load_wordnet("train", pos="noun")
    >>> len(train.label_names)
    26
    """
    if split not in SPLITS:
        raise ValueError(
            f"Invalid `split` for WordNet. Received: split={split!r}. "
            f"Expected one of {list(SPLITS)}."
        )
    parts = _normalize_pos(pos)
    directory = find_data_dir(parts, data_dir)

    files = [os.path.join(directory, f"data.{p}") for p in parts]
    parsed = [
        _parse_data_file(f, _POS_LETTER[p], os.stat(f).st_mtime_ns)
        for f, p in zip(files, parts)
    ]
    lex = np.concatenate([lex for lex, _, _ in parsed])
    glosses = np.concatenate([g for _, g, _ in parsed])
    is_test = np.concatenate([t for _, _, t in parsed])

    if pos is None:
        y, label_names = lex, list(LEXNAMES)
    else:  # Renumber over the classes present in these files (before splitting).
        present = np.unique(lex)
        y, label_names = np.searchsorted(present, lex), [LEXNAMES[i] for i in present]
    if split != "all":
        keep = is_test if split == "test" else ~is_test
        y, glosses = y[keep], glosses[keep]
    if len(glosses) == 0:
        raise ValueError(
            "The dataset is empty: no WordNet synsets found for "
            f"split={split!r}, pos={pos!r} in {directory!r}."
        )
    name = "wordnet" if pos is None else "wordnet_" + "_".join(p + "s" for p in parts)
    return LabeledData(
        x=glosses,
        y=y.astype(np.int64),
        label_names=label_names,
        name=f"{name}/{split}",
    )


def _normalize_pos(pos):
    """Returns the requested parts of speech as a tuple in canonical order."""
    if pos is None:
        return POS
    requested = (pos,) if isinstance(pos, str) else tuple(pos)
    unknown = [p for p in requested if p not in POS]
    if unknown or not requested:
        raise ValueError(
            f"Invalid `pos`. Received: pos={pos!r}. Expected None, one of "
            f"{list(POS)}, or a tuple of them."
        )
    return tuple(p for p in POS if p in requested)


@functools.lru_cache(maxsize=16)
def _parse_data_file(path, pos_letter, mtime_ns):
    """Parses one `data.<pos>` file; cached per (path, modification time).

    Returns `(lex_filenum, glosses, is_test)` arrays; callers must not
    modify them (they are shared through the cache).
    """
    del mtime_ns  # Only part of the cache key.
    with open(path, "rb") as f:
        lines = f.read().split(b"\n")
    lex, glosses, is_test = [], [], []
    for line_number, line in enumerate(lines, start=1):
        if not line.strip() or line.startswith(b"  "):  # Licence header.
            continue
        head, _, gloss = line.partition(b"| ")
        fields = head.split(b" ", 2)
        try:
            lex_filenum = int(fields[1])
            if len(fields[0]) != 8 or not 0 <= lex_filenum < len(LEXNAMES):
                raise ValueError
        except (ValueError, IndexError):
            raise ValueError(
                f"Malformed WordNet synset line in {path!r}, line {line_number}: "
                f"{line[:60]!r}. Expected 'offset lex_filenum ss_type ... | gloss'."
            ) from None
        lex.append(lex_filenum)
        glosses.append(gloss.strip().decode("utf-8", errors="replace"))
        is_test.append(zlib.crc32(pos_letter + fields[0]) % 5 == 0)
    glosses_array = np.empty(len(glosses), dtype=object)
    glosses_array[:] = glosses
    return (
        np.asarray(lex, dtype=np.int64),
        glosses_array,
        np.asarray(is_test, dtype=bool),
    )
