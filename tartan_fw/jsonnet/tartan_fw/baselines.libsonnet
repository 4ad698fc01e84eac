// Continued pretraining then fine-tuning: the baselines of Dery et al. (2022), as pipelines of stages
// (tartan_fw/pipeline.py). A 'pretrain' stage trains the body on masked-LM alone and saves it; the
// next stage starts from that body. Settings follow Gururangan et al. (2020): their released
// pretraining commands (ADAPTIVE_PRETRAINING.md) and fine-tuning config (environments/hyperparameters.py,
// training_config/classifier.jsonnet); our choices are commented.
local lib = import 'tartan.libsonnet';

{
  // Fine-tuning: lr 2e-5, batch 16, 10 epochs, patience 3 epochs, dropout 0.1 (lib.end_task),
  // 6% warmup then linear decay, weight decay 0.1. (Their AllenNLP config also accumulates 2 batches
  // of 16 per update; we keep the paper's stated batch of 16.)
  finetune_trainer(task):: {
    type: 'tartan',
    max_steps: lib.steps(task, 10, 16),
    body_lr: 2e-5,
    head_lr: 2e-5,  // one learning rate for everything, as their optimizer has
    weight_decay: 0.1,
    eval_every: lib.steps(task, 1, 16),
    patience: 3,
  },

  // TAPT: 100 epochs of masked-LM on the task's own text, lr 1e-4, batch 256 = 16 x 16 accumulated
  // (their released TAPT command; batch 2048 is their DAPT batch), 6% warmup, weight decay 0.01
  // (lr, warmup and weight decay are the pretrain trainer's defaults).
  tapt_stage(task):: {
    name: 'tapt',
    aux_tasks: [lib.tapt(task, 256)],
    trainer: { type: 'pretrain', max_steps: lib.steps(task, 100, 256), accumulation_steps: 16 },
  },

  // DAPT: Gururangan et al. ran 12.5K steps of batch 2048 (16 x 128 accumulated) at lr 5e-4 on the whole
  // domain corpus (over 10^4 x |Train|). On the corpora here (n = 1x or 10x |Train|, section 5.2) that
  // would be thousands of epochs, so we train DAPT like TAPT, 100 epochs at lr 1e-4 (our choice);
  // with a full domain corpus set trainer.max_steps=12500, lr=5e-4 and batch 2048 in the dapt stage.
  dapt_stage(task, corpus, corpus_size):: {
    name: 'dapt',
    aux_tasks: [lib.dapt(task, 256, corpus=corpus)],
    trainer: { type: 'pretrain', max_steps: lib.steps(task, 100 * corpus_size, 256), accumulation_steps: 16 },
  },

  // The shared part of every baseline of `task_name` on `model` (a hub name, a local directory, a released
  // checkpoint such as 'allenai/chemprot_roberta_tapt_base', or 'scratch').
  common(task_name, model, description):: {
    local task = lib.tasks[task_name],
    description: description + ' on ' + task_name,
    body: lib.body(model, task, 512),
    end_task: lib.end_task(task, 16),
  },

  finetune(task_name, model):: self.common(task_name, model, 'Fine-tuning only (Gururangan et al., 2020)') + {
    trainer: $.finetune_trainer(lib.tasks[task_name]),
  },

  // A pipeline: the pretraining stages, then fine-tuning from their body.
  pipeline(task_name, model, description, stages):: self.common(task_name, model, description) + {
    stages: stages + [{ name: 'finetune', trainer: $.finetune_trainer(lib.tasks[task_name]) }],
  },

  tapt(task_name, model):: self.pipeline(task_name, model, 'TAPT then fine-tuning',
                                         [$.tapt_stage(lib.tasks[task_name])]),

  // corpus: the DAPT text (default the task's 1x domain corpus); corpus_size: its size in |Train|
  // units, which scales the number of pretraining steps (e.g. 10 for domain.10xTAPT.txt).
  dapt(task_name, model, corpus=null, corpus_size=1)::
    local task = lib.tasks[task_name];
    assert task.dapt || corpus != null : task_name + ' has no DAPT corpus here; pass dapt_corpus';
    self.pipeline(task_name, model, 'DAPT then fine-tuning',
                  [$.dapt_stage(task, if corpus == null then task.dataset + '/domain.1xTAPT.txt' else corpus, corpus_size)]),

  dapt_tapt(task_name, model, corpus=null, corpus_size=1)::
    local task = lib.tasks[task_name];
    assert task.dapt || corpus != null : task_name + ' has no DAPT corpus here; pass dapt_corpus';
    self.pipeline(task_name, model, 'DAPT, then TAPT, then fine-tuning',
                  [$.dapt_stage(task, if corpus == null then task.dataset + '/domain.1xTAPT.txt' else corpus, corpus_size),
                   $.tapt_stage(task)]),
}
