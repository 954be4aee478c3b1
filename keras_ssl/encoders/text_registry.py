"""Named keras-hub text backbones, built at random on a vocabulary of your data."""

import dataclasses

import keras_hub

from keras_ssl.checks import check_name
from keras_ssl.encoders.text_backbone import text_encoder_from_backbone
from keras_ssl.tokenizers.preset_text_preprocessor import PresetTextPreprocessor


@dataclasses.dataclass(frozen=True)
class TextBackboneSpec:
    """A named text backbone: a keras-hub class and its size."""

    backbone: str
    tokenizer: str
    num_layers: int
    hidden_dim: int
    num_heads: int
    intermediate_dim: int
    sequence_length: int
    description: str

    def build(self, vocabulary_size, sequence_length, dropout=0.1):
        cls = getattr(keras_hub.models, self.backbone)
        size = {"vocabulary_size": vocabulary_size}
        if cls is keras_hub.models.ElectraBackbone:
            size = {"vocab_size": vocabulary_size, "embedding_dim": self.hidden_dim}
        return cls(
            **size,
            num_layers=self.num_layers,
            num_heads=self.num_heads,
            hidden_dim=self.hidden_dim,
            intermediate_dim=self.intermediate_dim,
            dropout=dropout,
            max_sequence_length=sequence_length,
        )


#: Text encoders a run can ask for by name (`pretrain(encoder=name)`,
#: `--encoder name`): keras-hub backbones of the sizes of the BERT
#: miniatures (Turc et al., 2019), randomly initialised, with a WordPiece
#: vocabulary learned from the training texts. Their runs can be saved as
#: keras-hub presets (`keras_ssl.encoders.save_to_preset`).
TEXT_BACKBONES = {
    "bert_tiny": TextBackboneSpec(
        "BertBackbone", "BertTokenizer", 2, 128, 2, 512, 64, "BERT, 2 layers x 128"
    ),
    "bert_mini": TextBackboneSpec(
        "BertBackbone", "BertTokenizer", 4, 256, 4, 1024, 64, "BERT, 4 layers x 256"
    ),
    "bert_small": TextBackboneSpec(
        "BertBackbone", "BertTokenizer", 4, 512, 8, 2048, 128, "BERT, 4 layers x 512"
    ),
    "bert_base": TextBackboneSpec(
        "BertBackbone", "BertTokenizer", 12, 768, 12, 3072, 128, "BERT-base, 12 x 768"
    ),
    "electra_tiny": TextBackboneSpec(
        "ElectraBackbone",
        "ElectraTokenizer",
        2,
        128,
        2,
        512,
        64,
        "ELECTRA, 2 layers x 128",
    ),
}


def build_text_encoder(name, vocabulary, sequence_length=None, dropout=0.1):
    """A named keras-hub text backbone, randomly initialised, on `vocabulary`.

    Args:
        name: a key of `TEXT_BACKBONES`.
        vocabulary: WordPiece tokens with `[PAD] [CLS] [SEP] [UNK] [MASK]`
            (e.g. from `keras_ssl.tokenizers.train_word_piece_vocabulary`).
        sequence_length: token ids per text (`None`: the name's default).
        dropout: the backbone's dropout rate.

    Returns:
        `(encoder, preprocessor)`: a functional model from token ids to
        `sequence_output` / `pooled_output` around the backbone, and the
        `PresetTextPreprocessor` of its keras-hub tokenizer.

    Example:

    >>> vocab = ["[PAD]", "[CLS]", "[SEP]", "[UNK]", "[MASK]", "a", "cat", "sat"]
    >>> encoder, pre = build_text_encoder("bert_tiny", vocab, sequence_length=16)
    >>> encoder(pre(["a cat sat"]))["pooled_output"].shape
    TensorShape([1, 128])
    """
    check_name("encoder", name, TEXT_BACKBONES)
    spec = TEXT_BACKBONES[name]
    length = sequence_length or spec.sequence_length
    # keras_ssl's vocabularies are lowercased without accents, as
    # `TextPreprocessor` reads them (keras-hub's default keeps the case).
    tokenizer = getattr(keras_hub.models, spec.tokenizer)(
        vocabulary=list(vocabulary), lowercase=True, strip_accents=True
    )
    preprocessor = PresetTextPreprocessor(tokenizer, length)
    backbone = spec.build(preprocessor.vocabulary_size, length, dropout=dropout)
    encoder = text_encoder_from_backbone(
        backbone, length, preprocessor.pad_id, name=f"{name}_encoder"
    )
    return encoder, preprocessor
