// Building blocks shared by every experiment file. An experiment file picks a task, the auxiliary
// corpora and a weighter; everything else comes from here, so files differ only where methods do.
// A setting left out takes the component's Python default (`tartan-fw list` shows them); these
// files set only what an experiment chooses.
local tasks = import 'tasks.libsonnet';

{
  tasks: tasks,

  // A task from its folder of JSON lines under the data root ({train,dev,test}.jsonl, one
  // {"text": ..., "label": ...} per line): { dataset: <folder>, metric: 'macro_f1' | 'micro_f1' |
  // 'accuracy' }, and dapt: true when the folder also holds a domain corpus domain.1xTAPT.txt.
  // train.txt (the TAPT corpus) is derived from train.jsonl when absent.
  task(spec)::
    assert std.isObject(spec) : 'task: expected an object such as { dataset: "my_task", metric: "macro_f1" }';
    assert std.objectHas(spec, 'dataset') : "task: missing 'dataset' (the task's folder under the data root)";
    assert std.objectHas(spec, 'metric') : "task: missing 'metric' (macro_f1, micro_f1 or accuracy)";
    { dapt: false } + spec,

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
    head: { type: 'classification' },  // dropout 0.1, the head's default
  },

  // Masked-LM auxiliary tasks: TAPT on the task's own text, DAPT on in-domain text. `fraction`
  // subsamples the corpus reproducibly (the paper's data-size experiments, section 5.2); point
  // `dapt_corpus` at a 10x corpus (e.g. 'chemprot/domain.10xTAPT.txt') where you have one.
  tapt(task, batch_size, fraction=null):: {
    type: 'mlm',
    name: 'tapt',
    corpus: task.dataset + '/train.txt',
    batch_size: batch_size,
    reader: { type: 'text_lines', [if fraction != null then 'fraction']: fraction },
  },
  dapt(task, batch_size, fraction=null, corpus=task.dataset + '/domain.1xTAPT.txt'):: {
    type: 'mlm',
    name: 'dapt',
    corpus: corpus,
    batch_size: batch_size,
    reader: { type: 'text_lines', [if fraction != null then 'fraction']: fraction },
  },

  // Next sentence prediction (the objective the paper's conclusion asks META-TARTAN to revisit).
  // Pairs come from the domain corpus, whose blank lines separate documents, where there is one;
  // else from the task's own text.
  nsp(task, batch_size, corpus=task.dataset + (if task.dapt then '/domain.1xTAPT.txt' else '/train.txt')):: {
    type: 'nsp',
    name: 'nsp',
    corpus: corpus,
    batch_size: batch_size,
    head: { type: 'classification' },
  },

  steps(task, epochs, batch_size):: std.ceil(epochs * task.train_size / batch_size),

  // META-TARTAN. Every setting defaults, in tartan_fw/weighters/meta.py, to the authors' released
  // run script (ldery/TARTAN run_meta_multiple.sh): phi* fitted afresh each step on 32 dev examples
  // (AdamW, lr 1e-3, weight decay 0.1, at most 10 steps), the meta-gradient on 64 other dev
  // examples, weight lr 0.01. An experiment passes only what it changes.
  meta_weighter(settings={}):: { type: 'meta' } + settings,

  // META-TARTAN on the CPU-sized experiments (600-1000 steps, 16 examples per task and step). The
  // weight lr is the paper's largest, 0.1: these runs are a few times shorter than the released
  // ones, and at 0.01 the weights would barely leave uniform. phi* is fitted on 16 dev examples and
  // scores 16 others, the end-task's batch, as the released code scores as many dev examples as
  // its end-task batch holds.
  cpu_meta_weighter(settings={}):: self.meta_weighter({ weight_lr: 0.1, meta_batch_size: 16, dev_batch_size: 16 } + settings),
}
