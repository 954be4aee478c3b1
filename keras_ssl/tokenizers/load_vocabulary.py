"""Read a WordPiece vocabulary file (one token per line)."""

import os

from keras_ssl.tokenizers.special_tokens import SPECIAL_TOKENS


def load_vocabulary(path):
    """Reads a WordPiece vocabulary file (one token per line).

    Reads the `vocabulary.txt` of a `keras-ssl pretrain` run directory, or
    the vocabulary of a keras-hub BERT-family tokenizer (BERT, DistilBERT,
    ELECTRA: `assets/tokenizer/vocabulary.txt` in a preset folder saved with
    `save_to_preset`).

    The file is UTF-8 with one token per line, token `i` on line `i + 1`; a
    final newline is optional and `\r\n` line ends are read as `\n`. The
    file must exist, hold more tokens than the special ones, contain every
    special token (`[PAD] [CLS] [SEP] [UNK] [MASK]`, in any order), and have
    no empty line and no token twice (either would shift or alias token
    ids). Only a line with no character at all is empty: a token made of
    whitespace (e.g. a single space, as some keras-hub vocabularies hold) is
    kept as it is, so token ids match the file's line numbers.

    Args:
        path: path of the vocabulary file.

    Returns:
        The vocabulary as a list of strings.

    Raises:
        FileNotFoundError: if the file does not exist.
        ValueError: if the file is not a valid vocabulary.

    Example:

    >>> import os, tempfile
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = os.path.join(tmp.name, "vocabulary.txt")
    >>> with open(path, "w", encoding="utf-8") as f:
    ...     _ = f.write("[PAD]\\n[CLS]\\n[SEP]\\n[UNK]\\n[MASK]\\na\\ncat\\n")
    >>> vocab = load_vocabulary(path)
    >>> vocab[-2:]
    ['a', 'cat']
    >>> from keras_ssl.tokenizers import TextPreprocessor
    >>> pre = TextPreprocessor(vocab, sequence_length=64)
    """
    if not isinstance(path, str | os.PathLike) or not os.fspath(path):
        raise ValueError(
            "Argument `path` must be the path of a vocabulary file. "
            f"Received: path={path!r}"
        )
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"Vocabulary file not found. Received: path={path!r}. Expected a "
            "UTF-8 file with one token per line (e.g. the `vocabulary.txt` "
            "of a `keras-ssl pretrain` run directory)."
        )
    if os.path.isdir(path):
        preset_vocabulary = os.path.join(path, "assets", "tokenizer", "vocabulary.txt")
        hint = (
            f" The keras-hub preset's vocabulary is {preset_vocabulary!r}."
            if os.path.isfile(preset_vocabulary)
            else ""
        )
        raise ValueError(
            "Argument `path` must be a vocabulary file, not a folder. "
            f"Received: path={path!r}.{hint}"
        )
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ValueError(
            f"Could not read the vocabulary file {path!r}: {e.strerror}."
        ) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise ValueError(
            f"The vocabulary file {path!r} is not valid UTF-8: line {line} has "
            f"an invalid byte {data[e.start : e.start + 1]!r}. Expected a UTF-8 "
            "file with one token per line."
        ) from None
    tokens = text.split("\n")
    if tokens and tokens[-1] == "":
        tokens.pop()  # the final newline
    tokens = [t[:-1] if t.endswith("\r") else t for t in tokens]
    if not tokens:
        raise ValueError(
            f"The vocabulary file is empty. Received: path={path!r} with 0 "
            "tokens. Expected one token per line, starting with "
            f"{list(SPECIAL_TOKENS)}."
        )
    empty = [i + 1 for i, t in enumerate(tokens) if not t]
    if empty:
        raise ValueError(
            f"The vocabulary file {path!r} has {len(empty)} empty line(s), the "
            f"first is line {empty[0]}. Expected one token per line (an empty "
            "line would shift the token ids)."
        )
    seen, duplicates = set(), []
    for t in tokens:
        if t in seen:
            duplicates.append(t)
        seen.add(t)
    if duplicates:
        raise ValueError(
            f"The vocabulary file {path!r} lists {len(duplicates)} token(s) "
            f"more than once, e.g. {duplicates[0]!r}. Expected each token once."
        )
    missing = [t for t in SPECIAL_TOKENS if t not in seen]
    if missing:
        raise ValueError(
            f"The vocabulary file {path!r} must hold the special tokens "
            f"{list(SPECIAL_TOKENS)} and more. Received: {len(tokens)} tokens, "
            f"missing {missing}. Expected a WordPiece vocabulary with these "
            "tokens, e.g. one written by `keras-ssl pretrain` or a keras-hub "
            "BERT-family vocabulary (BERT, DistilBERT, ELECTRA); byte-pair "
            "vocabularies (RoBERTa, GPT-2) use other special tokens and do not "
            "qualify."
        )
    if len(tokens) <= len(SPECIAL_TOKENS):
        raise ValueError(
            f"The vocabulary file {path!r} must hold the special tokens "
            f"{list(SPECIAL_TOKENS)} and more. Received: {len(tokens)} tokens."
        )
    return tokens
