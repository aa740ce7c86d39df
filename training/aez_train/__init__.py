"""aez training stage: Fashion-MNIST autoencoders (the LD{K}E{N}D{M} family), rate-aware fine-tuning,
integer entropy tables and ONNX model bundles for the aez codec."""
