"""Raw strings to padded token ids with a keras-hub model's own tokenizer."""

import copy
import json
import numbers
import os

import keras
import keras_hub
import tensorflow as tf

from keras_ssl.tokenizers.text_preprocessor import TextPreprocessor

# The special tokens a tokenizer must define: `[CLS]`/`<s>` starts a
# sequence, `[SEP]`/`</s>` ends it, `[PAD]`/`<pad>` pads it, `[MASK]`/`<mask>`
# hides a token for masked language modelling.
_REQUIRED_SPECIAL_TOKENS = ("start_token", "end_token", "pad_token", "mask_token")
# The config keys a rebuilt tokenizer gets from the preprocessor, not from
# the stored config.
_OWN_KEYS = ("dtype", "sequence_length", "name", "trainable", "config_file")
_SUPPORTED = "a keras-hub WordPieceTokenizer or BytePairTokenizer subclass"
_SUPPORTED_CLASSES = (
    keras_hub.tokenizers.WordPieceTokenizer,
    keras_hub.tokenizers.BytePairTokenizer,
)


def _no_assets(self, dir_path):
    # The vocabulary lives in the preprocessor's config (see below).
    pass


def _tokenize_unknown_to_id(self, inputs):
    # keras-hub's byte-pair tokenizer gives -1 for a symbol missing from the
    # vocabulary; the unknown token's id is used instead.
    tokens = self._keras_hub_class.tokenize(self, inputs)
    unknown = getattr(self, "_unknown_id", None)
    if unknown is None:
        return tokens

    def replace(ids):
        return tf.where(ids < 0, tf.cast(unknown, ids.dtype), ids)

    if isinstance(tokens, list | tuple):  # eager: keras-hub gives lists
        tokens = tf.ragged.constant(tokens, dtype=tf.int32)
    if isinstance(tokens, tf.RaggedTensor):
        return tf.ragged.map_flat_values(replace, tokens)
    return replace(tf.convert_to_tensor(tokens))


_INLINE_CLASSES = {}


def _inline_class(cls):
    """A subclass of the keras-hub tokenizer class `cls` without file assets.

    keras-hub tokenizers save their vocabulary as a `.keras` asset, which
    Keras safe mode then refuses to read back (a vocabulary path outside the
    archive); `PresetTextPreprocessor` keeps the vocabulary (and the merges)
    in its own config, so the tokenizer inside skips the assets.
    """
    if cls not in _INLINE_CLASSES:
        methods = {
            "save_assets": _no_assets,
            "load_assets": _no_assets,
            "_keras_hub_class": cls,
            "__module__": __name__,
            "__doc__": f"`{cls.__name__}` with an inline vocabulary.",
        }
        if issubclass(cls, keras_hub.tokenizers.BytePairTokenizer):
            methods["tokenize"] = _tokenize_unknown_to_id
        _INLINE_CLASSES[cls] = type(f"Inline{cls.__name__}", (cls,), methods)
    return _INLINE_CLASSES[cls]


def keras_hub_class(tokenizer):
    """The keras-hub class of `tokenizer` (not its inline-asset subclass)."""
    cls = type(tokenizer)
    return getattr(cls, "_keras_hub_class", cls)


def registered_tokenizer_class(class_name):
    """The keras-hub tokenizer class registered as `class_name`, or a ValueError."""
    cls = None
    if isinstance(class_name, str):
        cls = keras.saving.get_registered_object(class_name)
    if not (isinstance(cls, type) and issubclass(cls, _SUPPORTED_CLASSES)):
        raise ValueError(
            f"The tokenizer class must be {_SUPPORTED} registered with Keras "
            f"(e.g. 'keras_hub>BertTokenizer'). Received: class_name={class_name!r}"
        )
    return cls


def tokenizer_config(tokenizer):
    """`{"class_name", "config"}` of a keras-hub tokenizer, vocabulary inline.

    The config holds the vocabulary (a list of tokens for WordPiece, a
    token-to-id dict and the merge rules for byte-pair encoding), so the
    tokenizer can be rebuilt without any file.
    """
    cls = keras_hub_class(tokenizer)
    class_name = keras.saving.get_registered_name(cls)
    registered_tokenizer_class(class_name)  # a supported, registered class
    config = tokenizer.get_config()
    for key in _OWN_KEYS:
        config.pop(key, None)
    if isinstance(tokenizer, keras_hub.tokenizers.BytePairTokenizer):
        config["vocabulary"] = dict(tokenizer.vocabulary)
        config["merges"] = list(tokenizer.merges)
    else:
        config["vocabulary"] = list(tokenizer.get_vocabulary())
    return {"class_name": class_name, "config": config}


def build_tokenizer(spec, inline=True):
    """Rebuilds a keras-hub tokenizer from `tokenizer_config`'s output.

    With `inline`, the tokenizer is an instance of a subclass without file
    assets and always runs its TensorFlow path (the same ids eagerly, in
    `tf.data` and in an exported graph); otherwise it is an instance of the
    keras-hub class itself (to save as a preset).
    """
    if not isinstance(spec, dict) or not {"class_name", "config"} <= set(spec):
        raise ValueError(
            "Argument `tokenizer` must be a keras-hub tokenizer or its config "
            "{'class_name': ..., 'config': ...}. Received: "
            f"tokenizer={spec!r:.200}"
        )
    cls = registered_tokenizer_class(spec["class_name"])
    config = {
        k: v for k, v in copy.deepcopy(spec["config"]).items() if k not in _OWN_KEYS
    }
    # Inline only: a file path here would be read (outside Keras safe mode).
    expected = {"vocabulary": list, "merges": list}
    if issubclass(cls, keras_hub.tokenizers.BytePairTokenizer):
        expected["vocabulary"] = dict
    else:
        expected.pop("merges")
    for key, kind in expected.items():
        if not isinstance(config.get(key), kind):
            raise ValueError(
                f"The tokenizer config must hold its `{key}` inline (a "
                f"{kind.__name__}). Received: {key} of type "
                f"{type(config.get(key)).__name__}"
            )
    if not inline:
        return cls(dtype="int32", name="tokenizer", **config)
    tokenizer = _inline_class(cls)(
        dtype="int32", name="tokenizer", _allow_python_workflow=False, **config
    )
    if isinstance(tokenizer, keras_hub.tokenizers.BytePairTokenizer):
        tokenizer._unknown_id = _byte_pair_unknown_id(tokenizer)
    return tokenizer


def _byte_symbols():
    """The 256 symbols byte-level BPE (GPT-2, RoBERTa) writes the bytes as:
    printable Latin-1 characters stand for themselves, the other bytes for
    the characters from U+0100 on, in order."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    others = [b for b in range(256) if b not in printable]
    return [chr(b) for b in printable] + [chr(256 + i) for i in range(len(others))]


def _byte_pair_unknown_id(tokenizer):
    """The id of `<unk>`; `None` when every byte has a symbol in the
    vocabulary (GPT-2 / RoBERTa byte-level vocabularies). Raises otherwise."""
    if "<unk>" in tokenizer.vocabulary:
        return int(tokenizer.vocabulary["<unk>"])
    missing = [c for c in _byte_symbols() if c not in tokenizer.vocabulary]
    if missing:
        raise ValueError(
            "Argument `tokenizer` must have an `<unk>` token or a symbol for "
            "each of the 256 bytes (a byte-level vocabulary), so that every "
            f"text has ids. Received: a vocabulary without `<unk>` missing "
            f"{len(missing)} byte symbols, e.g. {missing[:5]}"
        )
    return None


def _as_spec(tokenizer):
    if isinstance(tokenizer, dict):
        return tokenizer
    if not isinstance(tokenizer, _SUPPORTED_CLASSES):
        raise ValueError(
            f"Argument `tokenizer` must be {_SUPPORTED} (e.g. "
            "keras_hub.models.BertTokenizer, RobertaTokenizer). Received: "
            f"tokenizer of type {type(tokenizer).__name__}"
        )
    if tokenizer.vocabulary is None:
        raise ValueError(
            "Argument `tokenizer` must have a vocabulary. Received: a "
            f"{type(tokenizer).__name__} with vocabulary=None"
        )
    return tokenizer_config(tokenizer)


def _ordered_vocabulary(tokenizer):
    """The tokens as a list, token `i` at index `i`."""
    if isinstance(tokenizer, keras_hub.tokenizers.BytePairTokenizer):
        by_id = {int(i): t for t, i in tokenizer.vocabulary.items()}
        if sorted(by_id) != list(range(len(tokenizer.vocabulary))):
            raise ValueError(
                "Argument `tokenizer` must map its tokens to the ids 0 .. "
                "vocabulary_size - 1, each id once. Received: a vocabulary of "
                f"{len(tokenizer.vocabulary)} tokens with ids "
                f"{sorted(by_id)[:5]}...{sorted(by_id)[-3:]}"
            )
        return [by_id[i] for i in range(len(by_id))]
    return list(tokenizer.get_vocabulary())


def _preset_config(path, file_name, what):
    """The JSON file `file_name` of the preset folder `path`."""
    file_path = os.path.join(path, file_name)
    if not os.path.isfile(file_path):
        raise ValueError(
            f"Argument `path` must be a keras-hub preset folder with {what} "
            f"(`{file_name}`). Received: path={path!r}, which has no "
            f"{file_name}. Expected a folder written by `save_to_preset`."
        )
    with open(file_path, encoding="utf-8") as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(
                f"The preset file {file_path!r} is not valid JSON ({e}). "
                "Expected a folder written by `save_to_preset`."
            ) from None


def check_preset_dir(path):
    """Returns `path` as a `str`; raises unless it is a local preset folder."""
    if not isinstance(path, str | os.PathLike) or not os.fspath(path):
        raise ValueError(
            "Argument `path` must be the path of a local keras-hub preset "
            f"folder. Received: path={path!r}"
        )
    path = os.fspath(path)
    if not os.path.isdir(path):
        raise FileNotFoundError(
            f"No keras-hub preset folder at {path!r}. Received: path={path!r}. "
            "Expected a local folder with config.json (the backbone) and "
            "tokenizer.json, e.g. one written by `save_to_preset` or a "
            "downloaded Kaggle / Hugging Face preset."
        )
    _preset_config(path, "config.json", "a backbone config")
    return path


@keras.saving.register_keras_serializable(package="keras_ssl")
class PresetTextPreprocessor(TextPreprocessor):
    """A keras-hub model's tokenizer, packed as `start ... end pad...`.

    The same interface as `TextPreprocessor` (a Keras layer from strings to
    int32 ids `(batch, sequence_length)`, `pack_pair`, `detokenize`, the
    attributes `vocabulary_size`, `sequence_length`, `pad_id`, `cls_id`,
    `sep_id`, `mask_id`, `special_ids`, `tokenizer` and `vocabulary`), so
    every keras_ssl text model takes it, but the tokenization is that of a
    pretrained keras-hub model: WordPiece for `BertTokenizer`,
    `DistilBertTokenizer`, `ElectraTokenizer` (`[CLS] ... [SEP] [PAD]...`),
    byte-pair encoding for `RobertaTokenizer` (`<s> ... </s> <pad>...`), or
    any keras-hub WordPiece or byte-pair tokenizer that defines start, end,
    padding and mask tokens. `cls_id` is the start token, `sep_id` the end
    token; `special_ids` also holds the unknown token when it has one.

    The vocabulary (and the merge rules of byte-pair encoding) live in the
    layer's config, so a `.keras` file holding it loads in safe mode without
    tokenizer asset files. Tokenization always runs keras-hub's TensorFlow
    path (the same ids eagerly, in `tf.data` and in an exported SavedModel,
    which then needs the `tensorflow_text` ops).

    Args:
        tokenizer: a keras-hub `WordPieceTokenizer` or `BytePairTokenizer`
            (subclass) with its vocabulary, e.g. `BertTokenizer(vocab)` or
            `Tokenizer.from_preset(path)`, or the dict `{"class_name",
            "config"}` of this layer's config. The layer keeps a copy.
        sequence_length: output length, >= 3 (start, one token, end).
        **kwargs: passed to `keras.layers.Layer`.

    Example:

    >>> import keras_hub
    >>> vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "small", "cat"]
    >>> tok = keras_hub.models.BertTokenizer(vocabulary=vocab)
    >>> pre = PresetTextPreprocessor(tok, sequence_length=8)
    >>> pre(tf.constant(["a small cat"])).numpy().tolist()
    [[2, 5, 6, 7, 3, 0, 0, 0]]
    """

    def __init__(self, tokenizer, sequence_length, **kwargs):
        keras.layers.Layer.__init__(self, **kwargs)
        # Python strings and lists of them are inputs too.
        self._allow_non_tensor_positional_args = True
        spec = _as_spec(tokenizer)
        if (
            not isinstance(sequence_length, numbers.Integral)
            or isinstance(sequence_length, bool)
            or sequence_length < 3
        ):
            raise ValueError(
                "Argument `sequence_length` must be an int >= 3: room for the "
                "start token, at least one token and the end token. Received: "
                f"sequence_length={sequence_length!r}"
            )
        self.sequence_length = int(sequence_length)
        self.tokenizer = build_tokenizer(spec)
        # A JSON string: Keras and TensorFlow leave strings untracked.
        self._tokenizer_json = json.dumps(tokenizer_config(self.tokenizer))
        missing = [
            name
            for name in _REQUIRED_SPECIAL_TOKENS
            if getattr(self.tokenizer, f"{name}_id", None) is None
        ]
        if missing:
            raise ValueError(
                "Argument `tokenizer` must define start, end, padding and mask "
                "tokens in its vocabulary (as BertTokenizer, ElectraTokenizer, "
                "DistilBertTokenizer and RobertaTokenizer do). Received: a "
                f"{keras_hub_class(self.tokenizer).__name__} without "
                f"{', '.join(missing)}"
            )
        self.vocabulary = _ordered_vocabulary(self.tokenizer)
        self.lowercase = bool(getattr(self.tokenizer, "lowercase", False))
        self.cls_id = int(self.tokenizer.start_token_id)
        self.sep_id = int(self.tokenizer.end_token_id)
        self.pad_id = int(self.tokenizer.pad_token_id)
        self.mask_id = int(self.tokenizer.mask_token_id)
        special = {self.cls_id, self.sep_id, self.pad_id, self.mask_id}
        special.update(int(i) for i in self.tokenizer.special_token_ids)
        unknown = getattr(self.tokenizer, "oov_token", None) or "<unk>"
        ids = {t: i for i, t in enumerate(self.vocabulary)}
        if unknown in ids:
            special.add(ids[unknown])
        self.special_ids = sorted(special)
        self.packer = keras_hub.layers.StartEndPacker(
            sequence_length=self.sequence_length,
            start_value=self.cls_id,
            end_value=self.sep_id,
            pad_value=self.pad_id,
            return_padding_mask=False,
            _allow_python_workflow=False,
        )
        # RoBERTa separates a pair with two end tokens: `<s> a </s></s> b </s>`.
        byte_pair = isinstance(self.tokenizer, keras_hub.tokenizers.BytePairTokenizer)
        self.pair_packer = keras_hub.layers.MultiSegmentPacker(
            sequence_length=self.sequence_length,
            start_value=self.cls_id,
            end_value=self.sep_id,
            sep_value=[self.sep_id, self.sep_id] if byte_pair else None,
            pad_value=self.pad_id,
            truncate="round_robin",
            _allow_python_workflow=False,
        )
        self.built = True

    @classmethod
    def from_preset(cls, path, sequence_length=None, **kwargs):
        """The preprocessor of a local keras-hub preset folder.

        Args:
            path: a folder written by keras-hub's `save_to_preset` (or
                `keras_ssl.encoders.save_to_preset`), holding `config.json`
                and `tokenizer.json`.
            sequence_length: output length; defaults to the backbone's
                `max_sequence_length` and may not exceed it.
            **kwargs: passed to the constructor (e.g. `name`).

        Returns:
            A `PresetTextPreprocessor`.

        Example:

        ```python
        pre = PresetTextPreprocessor.from_preset("bert_tiny_en_uncased/")
        ```
        """
        path = check_preset_dir(path)
        backbone_config = _preset_config(path, "config.json", "a backbone config")
        tokenizer_file = _preset_config(path, "tokenizer.json", "a tokenizer")
        class_name = tokenizer_file.get("registered_name") or tokenizer_file.get(
            "class_name"
        )
        if class_name and ">" not in str(class_name):
            class_name = f"keras_hub>{class_name}"
        registered_tokenizer_class(class_name)
        maximum = backbone_config.get("config", {}).get("max_sequence_length")
        if sequence_length is None:
            if maximum is None:
                raise ValueError(
                    "The preset's backbone config has no `max_sequence_length`: "
                    "pass `sequence_length`. Received: sequence_length=None"
                )
            sequence_length = maximum
        elif maximum is not None and (
            isinstance(sequence_length, numbers.Integral) and sequence_length > maximum
        ):
            raise ValueError(
                "Argument `sequence_length` must be at most the preset "
                f"backbone's max_sequence_length ({maximum}). Received: "
                f"sequence_length={sequence_length}"
            )
        tokenizer = keras_hub.models.Tokenizer.from_preset(path)
        return cls(tokenizer, sequence_length=sequence_length, **kwargs)

    @property
    def vocabulary_size(self):
        return len(self.vocabulary)

    def call(self, texts):
        ids = self.packer(self.tokenizer(self._as_strings(texts)))
        return tf.cast(ids, "int32")

    def keras_hub_tokenizer(self):
        """A new instance of the keras-hub tokenizer class, same vocabulary.

        E.g. a `keras_hub.models.BertTokenizer`, to save as part of a preset
        (`tokenizer.save_to_preset(path)`).
        """
        return build_tokenizer(json.loads(self._tokenizer_json), inline=False)

    def get_config(self):
        config = keras.layers.Layer.get_config(self)
        config.update(
            tokenizer=json.loads(self._tokenizer_json),
            sequence_length=self.sequence_length,
        )
        return config
