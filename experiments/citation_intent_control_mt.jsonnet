// Control: the MT-TARTAN quickstart (citation_intent, small from-scratch encoder, TAPT and DAPT)
// plus a useless auxiliary task, classifying the task's own texts under random labels. Compare
// with citation_intent_control_meta.jsonnet: learned weights should turn the control down.
// Ext-vars: steps (default 600) and aux, as in quickstart.jsonnet.
local task = (import 'tartan_fw/tartan.libsonnet').tasks.citation_intent;

// The quickstart recipe with its earlier defaults (small scratch encoder, TAPT and DAPT, 600 steps,
// no final fine-tuning, no head warm-up, fp32), so the control results (docs/results) reproduce as written.
(import 'tartan_fw/quickstart.libsonnet')(model='scratch', steps=600, aux='tapt,dapt') + {
  trainer+: { finetune: null, head_warmup_steps: null, precision: 'fp32' },
  description: 'MT-TARTAN on citation_intent with a random-labels control task',
  aux_tasks+: [{
    type: 'random_labels',
    name: 'random_labels',
    corpus: task.dataset + '/train.txt',
    num_labels: 6,  // as many classes as citation_intent
    batch_size: 16,
  }],
}
