"""The gpu-k8s stack's pipeline settings (GPU pods, images) and its offline dry run."""
