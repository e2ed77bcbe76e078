//! The eager interpreter: the graph planned once at load (values numbered, operators parsed,
//! constants folded onto the device) and each cut once when first asked for (its steps and, after
//! each, the values no later step reads), then run step by step over burn tensors.
//!
//! A layer is any value of the graph. Cutting at value `c` splits the steps the output needs into
//! the *front* (those that do not depend on `c`, `c`'s own producer among them) and the *rest*
//! (those that do). [`Graph::run_front`] runs the front and keeps `c` and the values the rest
//! reads besides `c` (a residual stream that skips over `c`, say); [`Graph::run_rest`] runs the
//! rest from a new `c`, typically a fresh autodiff leaf, so `dy/dc` costs the rest alone, as for
//! the hand-written networks.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use burn::tensor::Device;

use super::OnnxError;
use super::eval::{constant_value, eval};
use super::ops::{Op, display_name};
use super::proto::ModelDef;
use super::value::{F, Value, each};

/// What [`Graph::run_probed`] reads: each probed value and, when leaves were asked for, the zero
/// autodiff leaf added to it.
pub type Probes = Vec<(F, Option<F>)>;

/// Inference BatchNorm folded into the convolution before it, as exporters do by default:
/// `W' = W * s[c_out]`, `b' = (b - mean) * s + beta`, `s = gamma / sqrt(var + eps)`, when the
/// convolution's weights and the norm's parameters are constants and the norm is the only reader
/// of the convolution's output. The norm becomes an identity; the convolution's own output (the
/// pre-norm tensor) then holds the normalised values, so it is no longer offered as a layer.
/// Exact up to float rounding; saves a pass over the map per convolution.
fn fold_batch_norms(
    steps: &mut [Step],
    table: &mut Vec<Option<Value>>,
    names: &mut Vec<String>,
    output: usize,
    device: &Device,
) -> Result<HashSet<usize>, OnnxError> {
    let mut folded = HashSet::new();
    let mut readers: HashMap<usize, usize> = HashMap::new();
    for step in steps.iter() {
        for &i in step.inputs.iter().flatten() {
            *readers.entry(i).or_default() += 1;
        }
    }
    let producer: HashMap<usize, usize> =
        steps.iter().enumerate().flat_map(|(s, st)| st.outputs.iter().map(move |&o| (o, s))).collect();
    for t in 0..steps.len() {
        let Op::BatchNorm { epsilon } = steps[t].op else { continue };
        let Some(Some(x)) = steps[t].inputs.first().copied() else { continue };
        let Some(&c) = producer.get(&x) else { continue };
        if !matches!(steps[c].op, Op::Conv { .. })
            || readers.get(&x) != Some(&1)
            || x == output
            || steps[c].outputs.len() != 1
        {
            continue;
        }
        let constant =
            |i: Option<&Option<usize>>| i.copied().flatten().and_then(|v| table[v].as_ref().map(|val| (v, val)));
        let params: Option<Vec<Vec<f32>>> = (1..5)
            .map(|k| constant(steps[t].inputs.get(k)).and_then(|(_, v)| v.to_float(device).ok()).map(|f| f.values()))
            .collect();
        let (Some(params), Some((_, w))) = (params, constant(steps[c].inputs.get(1))) else { continue };
        let w = w.to_float(device)?;
        let dims = w.dims();
        let cout = dims[0];
        if params.iter().any(|p| p.len() != cout) {
            continue;
        }
        let (gamma, beta, mean, var) = (&params[0], &params[1], &params[2], &params[3]);
        let scale: Vec<f32> = (0..cout).map(|o| gamma[o] / (var[o] + epsilon).sqrt()).collect();
        let bias: Vec<f32> = match constant(steps[c].inputs.get(2)) {
            Some((_, b)) => b.to_float(device)?.values(),
            None if steps[c].inputs.get(2).copied().flatten().is_some() => continue,
            None => vec![0.0; cout],
        };
        let per_out = dims.iter().skip(1).product::<usize>();
        let mut weights = w.values();
        for (o, row) in weights.chunks_mut(per_out).enumerate() {
            row.iter_mut().for_each(|v| *v *= scale[o]);
        }
        let folded_bias: Vec<f32> = (0..cout).map(|o| (bias[o] - mean[o]) * scale[o] + beta[o]).collect();
        let w_name = format!("{}.folded", names[steps[c].inputs[1].expect("a weight")]);
        let b_name = format!("{}.folded_bias", steps[t].name);
        let mut add = |name: String, v: Value| {
            names.push(name);
            table.push(Some(v));
            names.len() - 1
        };
        let w_id = add(w_name, Value::float(F::from_values(weights, &dims, device)?));
        let b_id = add(b_name, Value::float(F::from_values(folded_bias, &[cout], device)?));
        steps[c].inputs = vec![steps[c].inputs[0], Some(w_id), Some(b_id)];
        steps[t].op = Op::Identity;
        steps[t].inputs.truncate(1);
        folded.insert(x);
    }
    Ok(folded)
}

/// One operator with its inputs and outputs as value ids.
#[derive(Debug, Clone)]
pub struct Step {
    pub op: Op,
    pub inputs: Vec<Option<usize>>,
    pub outputs: Vec<usize>,
    /// The exporter's node name.
    pub name: String,
    /// The ONNX operator name.
    pub kind: String,
}

/// Which steps run on each side of a cut, and what crosses it.
#[derive(Debug, Clone)]
pub struct CutPlan {
    pub front: Schedule,
    pub rest: Schedule,
    /// Values the rest reads that the front computed (or the graph input), other than the cut.
    pub carried: Vec<usize>,
}

/// Steps to run in order, and after each the values no later step reads (to free them).
#[derive(Debug, Clone, Default)]
pub struct Schedule {
    pub steps: Vec<usize>,
    free: Vec<Vec<usize>>,
}

/// A planned graph.
#[derive(Debug)]
pub struct Graph {
    /// ONNX name of each value.
    pub names: Vec<String>,
    /// The step producing each value (`None` for the input and constants).
    pub producer: Vec<Option<usize>>,
    pub steps: Vec<Step>,
    /// Initializers and folded constants, by value id.
    constants: Vec<Option<Value>>,
    pub input: usize,
    pub output: usize,
    pub device: Device,
    /// Whether the export accepts any batch size (else images run one at a time).
    pub dynamic_batch: bool,
    /// Convolution outputs that hold their BatchNorm's result since it was folded in.
    pub folded: HashSet<usize>,
    cuts: Mutex<HashMap<usize, Arc<CutPlan>>>,
}

impl Graph {
    /// Number values, parse every operator, fold the steps whose inputs are all constant.
    pub fn plan(model: &ModelDef, device: &Device) -> Result<Graph, OnnxError> {
        let mut ids: HashMap<String, usize> = HashMap::new();
        let mut names = Vec::new();
        let mut id_of = |name: &str, names: &mut Vec<String>| -> usize {
            *ids.entry(name.to_string()).or_insert_with(|| {
                names.push(name.to_string());
                names.len() - 1
            })
        };
        let input = id_of(&model.input.name, &mut names);
        let mut constants: HashMap<usize, Value> = HashMap::new();
        for (name, t) in &model.initializers {
            let id = id_of(name, &mut names);
            constants.insert(
                id,
                constant_value(t, device).map_err(|e| OnnxError::File(format!("initializer '{name}': {e}")))?,
            );
        }
        let mut steps = Vec::with_capacity(model.nodes.len());
        for node in &model.nodes {
            let op = Op::parse(node, model.opset)?;
            let inputs = node.inputs.iter().map(|n| (!n.is_empty()).then(|| id_of(n, &mut names))).collect();
            let outputs = node.outputs.iter().map(|n| id_of(if n.is_empty() { "" } else { n }, &mut names)).collect();
            steps.push(Step { op, inputs, outputs, name: display_name(node), kind: node.op.clone() });
        }
        let output =
            *ids.get(&model.outputs[0]).ok_or_else(|| OnnxError::File("the output is never computed".into()))?;
        let mut producer = vec![None; names.len()];
        for (s, step) in steps.iter().enumerate() {
            for &o in &step.outputs {
                producer[o] = Some(s);
            }
        }
        let mut table: Vec<Option<Value>> = vec![None; names.len()];
        for (id, v) in constants {
            table[id] = Some(v);
        }
        // Fold: a step whose inputs are all constants runs once, now.
        for step in &steps {
            let foldable = step.inputs.iter().flatten().all(|&i| table[i].is_some() && i != input);
            if !foldable {
                continue;
            }
            let args: Vec<Option<Value>> = step.inputs.iter().map(|i| i.and_then(|i| table[i].clone())).collect();
            let out = eval(&step.op, &args, step.outputs.len(), device).map_err(|e| e.at(step))?;
            for (&o, v) in step.outputs.iter().zip(out) {
                table[o] = Some(v);
            }
        }
        let folded = fold_batch_norms(&mut steps, &mut table, &mut names, output, device)?;
        producer.resize(names.len(), None);
        let dynamic_batch = model.input.dims.first().is_some_and(Option::is_none);
        Ok(Graph {
            names,
            producer,
            steps,
            constants: table,
            input,
            output,
            device: device.clone(),
            dynamic_batch,
            folded,
            cuts: Mutex::new(HashMap::new()),
        })
    }

    pub fn is_constant(&self, id: usize) -> bool {
        self.constants[id].is_some()
    }

    /// The value of a constant (an initializer or a folded step's output).
    pub fn constant(&self, id: usize) -> Option<&Value> {
        self.constants[id].as_ref()
    }

    /// Steps that must run (constants folded away), in order, for the graph output.
    fn needed(&self, targets: &[usize]) -> Vec<bool> {
        let mut needed = vec![false; self.steps.len()];
        let mut stack: Vec<usize> = targets.to_vec();
        let mut seen = HashSet::new();
        while let Some(v) = stack.pop() {
            if !seen.insert(v) || self.is_constant(v) {
                continue;
            }
            if let Some(s) = self.producer[v]
                && !needed[s]
            {
                needed[s] = true;
                stack.extend(self.steps[s].inputs.iter().flatten());
            }
        }
        needed
    }

    /// The plan of a cut at value `cut` (computed once per cut, then shared).
    pub fn cut(&self, cut: usize) -> Arc<CutPlan> {
        let mut cuts = self.cuts.lock().unwrap_or_else(|e| e.into_inner());
        cuts.entry(cut).or_insert_with(|| Arc::new(self.make_cut(cut))).clone()
    }

    fn make_cut(&self, cut: usize) -> CutPlan {
        let needed = self.needed(&[self.output, cut]);
        let mut depends = vec![false; self.names.len()];
        depends[cut] = true;
        let (mut front, mut rest) = (Vec::new(), Vec::new());
        for (s, step) in self.steps.iter().enumerate() {
            if !needed[s] {
                continue;
            }
            let d = step.outputs.iter().all(|&o| o != cut) && step.inputs.iter().flatten().any(|&i| depends[i]);
            if d {
                step.outputs.iter().for_each(|&o| depends[o] = true);
                rest.push(s);
            } else {
                front.push(s);
            }
        }
        let mut carried: Vec<usize> = rest
            .iter()
            .flat_map(|&s| self.steps[s].inputs.iter().flatten().copied())
            .filter(|&v| !depends[v] && !self.is_constant(v))
            .collect();
        carried.sort_unstable();
        carried.dedup();
        let mut keep: HashSet<usize> = carried.iter().copied().collect();
        keep.insert(cut);
        let front = self.schedule(front, &keep);
        let rest = self.schedule(rest, &HashSet::from([self.output]));
        CutPlan { front, rest, carried }
    }

    /// `steps` with, after each, the values it was the last reader of, but for `keep`.
    fn schedule(&self, steps: Vec<usize>, keep: &HashSet<usize>) -> Schedule {
        let mut last = HashMap::new();
        for (k, &s) in steps.iter().enumerate() {
            for &i in self.steps[s].inputs.iter().flatten() {
                last.insert(i, k);
            }
        }
        let mut free = vec![Vec::new(); steps.len()];
        for (v, k) in last {
            if !keep.contains(&v) {
                free[k].push(v);
            }
        }
        Schedule { steps, free }
    }

    /// Every step the output needs, in order.
    fn whole(&self, keep: &HashSet<usize>) -> Schedule {
        let needed = self.needed(&[self.output]);
        self.schedule((0..self.steps.len()).filter(|&s| needed[s]).collect(), keep)
    }

    /// Whether the output depends on value `v` (a gradient can reach it).
    pub fn reaches_output(&self, v: usize) -> bool {
        v == self.output || !self.cut(v).rest.steps.is_empty()
    }

    /// Run a schedule over `env`, freeing each value after its last reader.
    fn run(&self, env: &mut [Option<Value>], schedule: &Schedule) -> Result<(), OnnxError> {
        self.run_hooked(env, schedule, &mut |_, v| Ok(v))
    }

    /// [`Graph::run`] with `hook` applied to every value a step computes, by value id.
    fn run_hooked(
        &self,
        env: &mut [Option<Value>],
        schedule: &Schedule,
        hook: &mut dyn FnMut(usize, Value) -> Result<Value, OnnxError>,
    ) -> Result<(), OnnxError> {
        for (&s, free) in schedule.steps.iter().zip(&schedule.free) {
            let step = &self.steps[s];
            let args: Vec<Option<Value>> = step
                .inputs
                .iter()
                .map(|i| i.and_then(|i| self.constants[i].clone().or_else(|| env[i].clone())))
                .collect();
            if let Some(missing) =
                step.inputs.iter().zip(&args).find_map(|(i, a)| (i.is_some() && a.is_none()).then(|| i.unwrap()))
            {
                return Err(OnnxError::Shape(format!("'{}' is not available", self.names[missing])).at(step));
            }
            let out = eval(&step.op, &args, step.outputs.len(), &self.device).map_err(|e| e.at(step))?;
            for (&o, v) in step.outputs.iter().zip(out) {
                env[o] = Some(hook(o, v)?);
            }
            for &v in free {
                env[v] = None;
            }
        }
        Ok(())
    }

    /// Every value the output needs, for one batch: the dry run at load and the tests' view of
    /// each intermediate tensor.
    pub fn run_all(&self, x: F) -> Result<Vec<Option<Value>>, OnnxError> {
        let mut env = vec![None; self.names.len()];
        env[self.input] = Some(Value::float(x));
        let keep: HashSet<usize> = (0..self.names.len()).collect();
        self.run(&mut env, &self.whole(&keep))?;
        Ok(env)
    }

    /// Run the whole graph on one batch, reading the values `probes` on the way. With
    /// `leaves`, each probed value `v` continues as `v + z`, `z` a zero autodiff leaf returned
    /// with it, so `d output / d z` is the output's gradient at `v` through every path after it
    /// (what a hook on that tensor sees in PyTorch) while the paths into `v` stay intact.
    pub fn run_probed(&self, x: F, probes: &[usize], leaves: bool) -> Result<(Value, Probes), OnnxError> {
        let mut env = vec![None; self.names.len()];
        env[self.input] = Some(Value::float(x));
        let schedule = self.whole(&HashSet::from([self.output]));
        let mut seen: HashMap<usize, (F, Option<F>)> = HashMap::new();
        let mut hook = |id: usize, v: Value| -> Result<Value, OnnxError> {
            if !probes.contains(&id) {
                return Ok(v);
            }
            let t = v.to_float(&self.device)?;
            if !leaves {
                seen.insert(id, (t, None));
                return Ok(v);
            }
            let dims = t.dims();
            let zero = F::from_values(vec![0.0; dims.iter().product()], &dims, &self.device)?.autodiff();
            let zero = each!(zero, z => z.require_grad());
            let through = super::eval::binary(super::ops::Binary::Add, t.clone(), zero.clone())?;
            seen.insert(id, (t, Some(zero)));
            Ok(Value::float(through))
        };
        self.run_hooked(&mut env, &schedule, &mut hook)?;
        let out = env[self.output].take().ok_or_else(|| OnnxError::Shape("the output was not computed".into()))?;
        let probed = probes
            .iter()
            .map(|p| seen.remove(p).ok_or_else(|| OnnxError::Shape(format!("'{}' was not computed", self.names[*p]))))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((out, probed))
    }

    /// Run the front of the cut at `cut` on one batch: the value at the cut and what the rest
    /// of the graph reads besides it.
    pub fn run_front(&self, x: F, cut: usize) -> Result<(Value, Vec<(usize, Value)>), OnnxError> {
        if cut == self.input {
            return Ok((Value::float(x), vec![]));
        }
        let plan = self.cut(cut);
        let mut env = vec![None; self.names.len()];
        env[self.input] = Some(Value::float(x));
        self.run(&mut env, &plan.front)?;
        let at = env[cut].take().ok_or_else(|| OnnxError::Shape(format!("'{}' was not computed", self.names[cut])))?;
        let carried = plan.carried.iter().filter_map(|&v| env[v].take().map(|val| (v, val))).collect();
        Ok((at, carried))
    }

    /// Run the rest of the graph from `at` at the cut, with the carried values: the output.
    pub fn run_rest(&self, at: Value, carried: &[(usize, Value)], cut: usize) -> Result<Value, OnnxError> {
        if cut == self.output {
            return Ok(at);
        }
        let plan = self.cut(cut);
        let mut env = vec![None; self.names.len()];
        for (v, val) in carried {
            env[*v] = Some(val.clone());
        }
        env[cut] = Some(at);
        self.run(&mut env, &plan.rest)?;
        env[self.output].take().ok_or_else(|| OnnxError::Shape("the output was not computed".into()))
    }
}
