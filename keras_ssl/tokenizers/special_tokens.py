"""The reserved tokens every keras_ssl vocabulary starts with."""

PAD, CLS, SEP, UNK, MASK = "[PAD]", "[CLS]", "[SEP]", "[UNK]", "[MASK]"
SPECIAL_TOKENS = (PAD, CLS, SEP, UNK, MASK)
