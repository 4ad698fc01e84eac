// Building blocks shared by every experiment file. An experiment file picks a task, the auxiliary
// corpora and a weighter; everything else comes from here, so files differ only where methods do.
local tasks = import 'tasks.libsonnet';

{
  tasks: tasks,

  // The shared body: a hub name or local directory (e.g. the MiniLM package's `model/` folder), or
  // 'scratch' for a small randomly initialised BERT with a tokenizer trained on the task's corpora.
  body(model, task, max_length):: if model == 'scratch' then {
    type: 'scratch',
    tokenizer_corpora: [task.dataset + '/train.txt'] + (if task.dapt then [task.dataset + '/domain.1xTAPT.txt'] else []),
    max_length: max_length,
  } else {
    type: 'huggingface',
    model_name: model,
    max_length: max_length,
  },

  // The small from-scratch encoder of every CPU-sized experiment (the quickstarts, experiments/cpu,
  // *_cpu): large enough to learn the tasks a little in a few hundred steps on two cores.
  cpu_encoder:: { hidden_size: 128, num_layers: 2, num_heads: 2, intermediate_size: 512 },

  end_task(task, batch_size):: {
    type: 'classification',
    dataset: task.dataset,
    metric: task.metric,
    batch_size: batch_size,
    head: { type: 'classification', dropout: 0.1 },
  },

  // Masked-LM auxiliary tasks: TAPT on the task's own text, DAPT on in-domain text. `fraction`
  // subsamples the corpus reproducibly (the paper's data-size experiments, section 5.2); point
  // `dapt_corpus` at a 10x corpus (e.g. 'chemprot/domain.10xTAPT.txt') where you have one.
  tapt(task, batch_size, fraction=null):: {
    type: 'mlm',
    name: 'tapt',
    corpus: task.dataset + '/train.txt',
    batch_size: batch_size,
    reader: { type: 'text_lines', fraction: fraction },
  },
  dapt(task, batch_size, fraction=null, corpus=task.dataset + '/domain.1xTAPT.txt'):: {
    type: 'mlm',
    name: 'dapt',
    corpus: corpus,
    batch_size: batch_size,
    reader: { type: 'text_lines', fraction: fraction },
  },

  // Next sentence prediction (the objective the paper's conclusion asks META-TARTAN to revisit).
  // Pairs come from the domain corpus, whose blank lines separate documents, where there is one;
  // else from the task's own text.
  nsp(task, batch_size, corpus=task.dataset + (if task.dapt then '/domain.1xTAPT.txt' else '/train.txt')):: {
    type: 'nsp',
    name: 'nsp',
    corpus: corpus,
    batch_size: batch_size,
    head: { type: 'classification', dropout: 0.1 },
  },

  steps(task, epochs, batch_size):: std.ceil(epochs * task.train_size / batch_size),

  // The paper's META-TARTAN settings (section 4, appendix A.3): meta head fitted for 10 Adam steps
  // at lr 1e-3 with weight decay 0.1 on 16-32 end-task training examples; weight lr from
  // {0.1, 0.05, 0.03, 0.01}.
  meta_weighter(weight_lr=0.1):: {
    type: 'meta',
    weight_lr: weight_lr,
    meta_head_steps: 10,
    meta_head_lr: 1e-3,
    meta_head_weight_decay: 0.1,
    meta_batch_size: 32,
    dev_batch_size: 32,
  },
}
