//! GGUF files: the header, metadata and tensor table, and dequantisation of tensors at load.
