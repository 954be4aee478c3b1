"""General English text available offline: WordNet glosses (nouns held out),
fortune cookies and Jane Austen's novels."""

import glob
import gzip
import logging
import os
import re
import warnings
import zlib

import numpy as np

from keras_ssl.datasets.labeled_data import LabeledData
from keras_ssl.datasets.wordnet import load_wordnet

logger = logging.getLogger("keras_ssl")

FORTUNES_DIR = "/usr/share/games/fortunes"
#: Where `apt-get download r-cran-janeaustenr && dpkg-deb -x` unpacks it.
AUSTEN_DATA = "usr/lib/R/site-library/janeaustenr/data"
#: Longest passage kept whole, in words; longer paragraphs are cut at
#: sentence ends.
MAX_WORDS = 48


def _passages(paragraph, max_words=MAX_WORDS):
    """`paragraph` cut at sentence ends into passages of at most `max_words`
    words (a longer sentence is cut at word boundaries)."""
    sentences = re.split(r"(?<=[.!?;:])\s+", paragraph.strip())
    out, current = [], []
    for sentence in sentences:
        words = sentence.split()
        if current and len(current) + len(words) > max_words:
            out.append(" ".join(current))
            current = []
        while len(words) > max_words:
            out.append(" ".join(words[:max_words]))
            words = words[max_words:]
        current += words
    if current:
        out.append(" ".join(current))
    return out


def load_fortunes(directory=FORTUNES_DIR):
    """The fortune cookies of Debian's `fortunes` / `fortunes-min` packages.

    Returns:
        `(texts, categories)`: one passage per cookie (long ones cut at
        sentence ends), and the file (category) each came from.
    """
    texts, categories = [], []
    for path in sorted(glob.glob(os.path.join(directory, "*"))):
        name = os.path.basename(path)
        if "." in name or os.path.isdir(path) or os.path.islink(path):
            continue  # .dat indexes, .u8 links
        with open(path, encoding="utf-8", errors="replace") as f:
            for cookie in f.read().split("\n%\n"):
                lines = [ln.strip() for ln in cookie.strip("%\n").splitlines()]
                # Attribution lines ("-- Author") and ASCII art are dropped.
                words = " ".join(ln for ln in lines if not ln.startswith("--"))
                if sum(c.isalpha() for c in words) < 0.6 * max(len(words), 1):
                    continue
                for passage in _passages(words):
                    texts.append(passage)
                    categories.append(name)
    return texts, categories


def _r_character_vectors(data_dir):
    """The character vectors of an R lazy-load database (`Rdata.rdb/.rdx`),
    read with the `rdata` package."""
    try:
        import rdata
        import rdata.conversion
        import rdata.parser
    except ImportError:
        raise ImportError(
            "Reading Jane Austen's novels needs the `rdata` package: pip install rdata"
        ) from None

    def parse(raw):
        with warnings.catch_warnings():  # "Unknown file type: assumed RDS"
            warnings.simplefilter("ignore", UserWarning)
            return rdata.conversion.convert(rdata.parser.parse_data(raw))

    with open(os.path.join(data_dir, "Rdata.rdx"), "rb") as f:
        index = parse(gzip.decompress(f.read()))
    with open(os.path.join(data_dir, "Rdata.rdb"), "rb") as f:
        database = f.read()
    books = {}
    for name, (offset, length) in index["variables"].items():
        chunk = database[int(offset) : int(offset) + int(length)]
        # Each object: a 4-byte length, then zlib-compressed R serialization.
        raw = zlib.decompress(chunk[4:])
        books[str(name)] = [str(line) for line in parse(raw)]
    return books


def load_austen(root):
    """Jane Austen's six novels from an unpacked `r-cran-janeaustenr` package.

    Args:
        root: the folder `dpkg-deb -x r-cran-janeaustenr_*.deb ROOT`
            unpacked into.

    Returns:
        `(texts, books)`: passages of at most `MAX_WORDS` words (paragraphs
        cut at sentence ends) and the novel each came from.
    """
    data_dir = os.path.join(root, AUSTEN_DATA)
    if not os.path.isfile(os.path.join(data_dir, "Rdata.rdb")):
        raise FileNotFoundError(
            f"Jane Austen's novels not found. Received: root={root!r}. "
            "Expected the folder `apt-get download r-cran-janeaustenr` and "
            f"`dpkg-deb -x r-cran-janeaustenr_*.deb ROOT` made ({AUSTEN_DATA})."
        )
    texts, books = [], []
    for book, lines in sorted(_r_character_vectors(data_dir).items()):
        for paragraph in "\n".join(lines).split("\n\n"):
            paragraph = " ".join(paragraph.split())
            if len(paragraph.split()) < 4 or paragraph.isupper():
                continue  # titles, chapter headings
            for passage in _passages(paragraph):
                texts.append(passage)
                books.append(book)
    return texts, books


def load_general_text(austen_root=None, fortunes_dir=FORTUNES_DIR, seed=0):
    """General English text for a base model, WordNet noun glosses held out.

    Sources (each skipped with a warning when absent): the WordNet 3.0
    glosses of verbs, adjectives and adverbs (`wordnet-base`; the noun
    glosses are the transfer task, so they are not included), fortune
    cookies (`fortunes`, `fortunes-min`) and Jane Austen's novels
    (`r-cran-janeaustenr`, unpacked at `austen_root`).

    Returns:
        A shuffled `LabeledData` of texts whose label is the source
        (`label_names`: `wordnet`, `fortunes`, `austen`).
    """
    parts = {}
    glosses = load_wordnet("all", pos=("verb", "adj", "adv"))
    parts["wordnet"] = list(glosses.x)
    if os.path.isdir(fortunes_dir):
        parts["fortunes"] = load_fortunes(fortunes_dir)[0]
    else:
        logger.warning("No fortunes in %s (apt-get install fortunes).", fortunes_dir)
    if austen_root is not None:
        parts["austen"] = load_austen(austen_root)[0]
    names = list(parts)
    x = np.array([t for n in names for t in parts[n]], dtype=object)
    y = np.concatenate([np.full(len(parts[n]), i) for i, n in enumerate(names)])
    order = np.random.default_rng(seed).permutation(len(x))
    logger.info("General text: %s.", ", ".join(f"{n} {len(parts[n])}" for n in names))
    return LabeledData(x[order], y[order].astype("int32"), names, name="general_text")
