#!/usr/bin/env bash
# Installs the embedded default data (Debian packages) when it is missing:
#   dataset-fashion-mnist -> /usr/share/datasets/fashion-mnist
#   wordnet-base          -> /usr/share/wordnet
# Without apt or root it only warns: the loaders then look in
# $KERAS_SSL_FASHION_MNIST_DIR / $KERAS_SSL_WORDNET_DIR and the Keras cache,
# and Fashion-MNIST falls back to a Keras download where a network exists.
set -u
#   fortunes, fortunes-min -> /usr/share/games/fortunes (with --general-text:
#                             general text of the base model, `make base-models`)
need=()
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || need+=(dataset-fashion-mnist)
[ -f /usr/share/wordnet/data.noun ] || need+=(wordnet-base)
if [ "${1:-}" = "--general-text" ]; then
  [ -f /usr/share/games/fortunes/fortunes ] || need+=(fortunes)
  [ -f /usr/share/games/fortunes/cookie ] || need+=(fortunes-min)
fi
[ ${#need[@]} -eq 0 ] && exit 0
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "Installing data packages: ${need[*]}"
  apt-get update -qq >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null \
    && exit 0
  echo "warning: apt-get install ${need[*]} failed" >&2
else
  echo "warning: cannot install ${need[*]} (needs apt-get as root)." >&2
fi
echo "warning: set KERAS_SSL_FASHION_MNIST_DIR / KERAS_SSL_WORDNET_DIR to local" \
  "copies, or let the loaders try a Keras download." >&2
exit 0
