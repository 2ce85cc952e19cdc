"""Per-document enrichment stages, each implementing `voc.stages.Stage` around one library
component; `nlp.pipeline` lists them in order."""
