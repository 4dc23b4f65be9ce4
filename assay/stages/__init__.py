"""The pipeline's stages, one module each, as ``dvc.yaml`` runs them through ``assay <stage>``.

Each takes params and paths, makes one library call and writes its declared outputs
atomically. What a stage computes lives in the library (``assay.data``, ``assay.generator``, ...).
"""
