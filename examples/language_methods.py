"""Every language objective with plain `model.fit`, then fine-tuning.

Uses the classes directly (no workflow helpers), so this is the recipe for
your own corpus: learn a WordPiece vocabulary, build a Transformer, wrap it
in an objective, fit on raw strings, then fine-tune a classifier on the
encoder (here: only the top Transformer block, `trainable_layers=1`) next to
a random-init twin. The causal LM also writes a few continuations.

    python examples/language_methods.py --method mlm --steps 500
    python examples/language_methods.py --method all --steps 2 --corpus-size 2000
"""

import argparse

import keras
import numpy as np
import tensorflow as tf

from keras_ssl.datasets import load, make_sentence_pairs
from keras_ssl.encoders import transformer_decoder, transformer_encoder
from keras_ssl.evaluation import fine_tune
from keras_ssl.models import (
    CausalLanguageModel,
    MaskedLanguageModel,
    ReplacedTokenDetection,
    SimCSE,
)
from keras_ssl.tokenizers import TextPreprocessor, train_word_piece_vocabulary

METHODS = ("mlm", "mlm_nsp", "causal_lm", "rtd", "simcse")
LENGTH = 32


def build(method, preprocessor, seed):
    size = preprocessor.vocabulary_size
    arch = dict(hidden_dim=64, num_layers=2, num_heads=2, intermediate_dim=128)
    if method == "causal_lm":
        return CausalLanguageModel(
            transformer_decoder(size, LENGTH, **arch), preprocessor
        )
    encoder = transformer_encoder(size, LENGTH, **arch)
    if method == "mlm":
        return MaskedLanguageModel(encoder, preprocessor, mask_rate=0.4, seed=seed)
    if method == "mlm_nsp":
        return MaskedLanguageModel(
            encoder,
            preprocessor,
            mask_rate=0.4,
            next_sentence_prediction=True,
            seed=seed,
        )
    if method == "rtd":
        return ReplacedTokenDetection(encoder, preprocessor, seed=seed)
    return SimCSE(encoder, preprocessor, seed=seed)


def training_data(method, texts, batch_size, seed):
    """Raw strings (tokenized in the graph); sentence pairs for NSP."""
    if method == "mlm_nsp":
        pairs = make_sentence_pairs(texts, seed=seed)
        inputs = {
            "first": pairs.first.astype(str),
            "second": pairs.second.astype(str),
            "next_sentence_label": pairs.is_next,
        }
        data = tf.data.Dataset.from_tensor_slices(inputs)
        size = len(pairs.first)
    else:
        data = tf.data.Dataset.from_tensor_slices(texts.astype(str))
        size = len(texts)
    data = data.shuffle(size, seed=seed).batch(batch_size, drop_remainder=True)
    return data.repeat().prefetch(tf.data.AUTOTUNE)


def run(method, corpus, train, test, preprocessor, args):
    keras.utils.set_random_seed(args.seed)
    model = build(method, preprocessor, args.seed)
    model.compile(optimizer=keras.optimizers.AdamW(3e-3, weight_decay=1e-4))
    data = training_data(method, corpus, args.batch_size, args.seed)
    history = model.fit(data, epochs=1, steps_per_epoch=args.steps, verbose=0)
    ids_train = np.asarray(preprocessor(tf.constant(train.x.astype(str))))
    ids_test = np.asarray(preprocessor(tf.constant(test.x.astype(str))))
    scores = {}
    for name, encoder in (
        ("ssl", model.encoder),
        ("random_init", keras.models.clone_model(model.encoder)),
    ):
        scores[name] = fine_tune(
            encoder,
            ids_train,
            train.y,
            ids_test,
            test.y,
            epochs=args.fine_tune_epochs,
            learning_rate=3e-3,
            trainable_layers=1,
            verbose=0,
            seed=args.seed,
        )["accuracy"]
    metrics = {k: round(float(v[-1]), 3) for k, v in history.history.items()}
    result = {"method": method, "metrics": metrics, **scores}
    if method == "causal_lm":
        result["samples"] = model.generate(
            ["a small", "the act of"], max_length=16, sampler="top_p", seed=args.seed
        )
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--method",
        default="mlm",
        help=f"one of {', '.join(METHODS)}, a comma-separated list, or all",
    )
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--corpus-size", type=int, default=117659)
    parser.add_argument("--fine-tune-size", type=int, default=4000)
    parser.add_argument("--fine-tune-epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    methods = METHODS if args.method == "all" else tuple(args.method.split(","))
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        expected = ", ".join(METHODS)
        parser.error(f"--method: unknown {unknown}; expected {expected} or all")

    glosses = load("wordnet")
    corpus = glosses.subset(min(args.corpus_size, len(glosses)), seed=args.seed).x
    vocabulary = train_word_piece_vocabulary(corpus, 4000)
    preprocessor = TextPreprocessor(vocabulary, sequence_length=LENGTH)
    train = load("wordnet_nouns", split="train")
    train = train.subset(min(args.fine_tune_size, len(train)), seed=args.seed)
    test = load("wordnet_nouns", split="test")
    test = test.subset(min(args.fine_tune_size, len(test)), seed=args.seed)

    results = []
    for method in methods:
        result = run(method, corpus, train, test, preprocessor, args)
        print(
            f"{method:>9}: {result['metrics']} | fine-tune top block: "
            f"{result['ssl']:.1%} (random init {result['random_init']:.1%})"
        )
        for sample in result.get("samples", []):
            print(f"{'':>11}{sample}")
        results.append(result)
    return results


if __name__ == "__main__":
    main()
