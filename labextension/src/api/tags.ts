/**
 * The `mlops.*` run tags the panel reads: its copy of the vocabulary in
 * `jupyter_mlops/core/tags.py`, same constant names, checked against it by
 * `tests/python/test_tags_vocabulary.py`.
 */
export const TAGS = {
  /** Every tracked run's environment content hash. */
  ENV_HASH: 'mlops.env.hash'
} as const;
