//! The compute worker: one named background thread that owns the models, decoded images and
//! per-image explanation sessions (its [`Cache`]), and runs [`Job`]s. In the browser, where a
//! page has no threads, [`Worker::poll`] starts the next job at each frame: in the page's compute
//! worker when it can run there ([`super::offload`]), else on the page's thread. The worker knows no job
//! kind: each lives in its own file under [`super::jobs`]. The UI submits jobs and polls events;
//! it never waits.
//!
//! Loads run first, in order. Other jobs run in a [`LaneKey`]: for each lane only the newest job
//! is kept, and a newer job cancels the one running in its lane.

use super::images::ImageSource;
use super::lane::{JobError, Token};
use super::pair_jobs::{PairMapsCache, SimilarityModels};
use crate::control::{Control, Progress};
use crate::error::{LanternError, Result};
use crate::explain::Session;
use crate::map::WeightMap;
use crate::models::Network;
use crate::models::generator::Generator;
use burn::tensor::Device;
use image::RgbImage;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Condvar, Mutex};
use web_time::{Duration, Instant};

/// Which view a result is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Slot {
    Main,
    Cell(usize),
    /// The small map of the `i`-th present label of a multi-label model (the inspector's list).
    Label(usize),
}

/// A lane of the worker: the newest job of a lane replaces the pending one and cancels the
/// running one. Explanations of the views run before the similarity jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LaneKey {
    View(Slot),
    /// The live camera's explanation of its newest frame.
    Camera,
    Pair,
    Neighbours,
}

impl LaneKey {
    /// The queue the lane's jobs wait in (lower runs first; loads are 0).
    fn queue(self) -> usize {
        match self {
            LaneKey::View(_) | LaneKey::Camera => 1,
            LaneKey::Pair | LaneKey::Neighbours => 2,
        }
    }
}

/// The worker computed on a remote server that no longer answers: it is back on the local device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceLost {
    /// The server, as the user named it.
    pub server: String,
    /// What failed.
    pub reason: String,
}

/// What the worker keeps between jobs.
pub struct Cache {
    /// Where jobs compute: the local device, or a `lantern serve` on another machine.
    pub device: Device,
    /// The device the worker started on, to which it falls back when a server is lost.
    local: Device,
    /// The server `device` is on, when it is remote.
    server: Option<String>,
    /// A server lost during the last job, reported once after its answer.
    lost: Option<DeviceLost>,
    pub models: HashMap<u64, Arc<Network>>,
    /// The weight-map generator of each model that has one.
    pub generators: HashMap<u64, Arc<Generator>>,
    /// Decoded gallery images by id.
    pub images: HashMap<u64, Arc<RgbImage>>,
    /// Most recently used last; `(image, model)` and its session.
    pub sessions: VecDeque<((u64, u64), Session)>,
    /// Loaded similarity models by id.
    pub similarity: HashMap<u64, Arc<SimilarityModels>>,
    /// Gallery embeddings by similarity-model id and image source.
    pub embeddings: HashMap<u64, HashMap<ImageSource, Vec<f32>>>,
    /// The last pair's similarity maps.
    pub pair_maps: PairMapsCache,
    /// Where each loaded model came from, to send it to the web page's compute worker.
    #[cfg(target_arch = "wasm32")]
    pub sources: HashMap<u64, super::model::ModelSource>,
}

impl Cache {
    pub fn new(device: Device) -> Self {
        Self {
            local: device.clone(),
            device,
            server: None,
            lost: None,
            models: HashMap::new(),
            generators: HashMap::new(),
            images: HashMap::new(),
            sessions: VecDeque::new(),
            similarity: HashMap::new(),
            embeddings: HashMap::new(),
            pair_maps: None,
            #[cfg(target_arch = "wasm32")]
            sources: HashMap::new(),
        }
    }

    /// A decoded image: the one the worker keeps for gallery image `id`, else decoded now.
    pub fn image(&self, id: u64, source: &ImageSource) -> Result<Arc<RgbImage>> {
        match self.images.get(&id) {
            Some(img) => Ok(Arc::clone(img)),
            None => source.decode().map(Arc::new),
        }
    }

    /// Forget the sessions of model `id` (reloaded, or given another generator).
    pub fn forget_sessions(&mut self, id: u64) {
        self.sessions.retain(|((_, m), _)| *m != id);
    }

    /// Compute on `device` from now on: on the server named `server`, or on the local device
    /// (`None`). What holds tensors on the old device (models, generators, sessions, similarity
    /// models and their last maps) is dropped, so the app loads its models again; decoded images
    /// and gallery embeddings (plain numbers) stay.
    pub fn use_device(&mut self, device: Option<Device>, server: Option<String>) {
        self.device = device.unwrap_or_else(|| self.local.clone());
        self.server = server;
        self.models.clear();
        self.generators.clear();
        self.sessions.clear();
        self.similarity.clear();
        self.pair_maps = None;
    }

    /// Where model `model` came from and image `image`'s pixels, to send them to the web page's
    /// compute worker.
    #[cfg(target_arch = "wasm32")]
    fn offloadable(&self, model: u64, image: u64) -> Result<(&super::model::ModelSource, &RgbImage)> {
        let source =
            self.sources.get(&model).ok_or_else(|| LanternError::Internal(format!("model {model} is not loaded")))?;
        let img =
            self.images.get(&image).ok_or_else(|| LanternError::Internal(format!("image {image} is not loaded")))?;
        Ok((source, img))
    }

    /// The server jobs compute on, if remote.
    pub fn server(&self) -> Option<&str> {
        self.server.as_deref()
    }

    /// When computing remotely, ask the server for a round trip: if it does not answer within
    /// [`crate::device::REMOTE_CHECK`], fall back to the local device and note the loss (reported after the
    /// job's answer). `Err` says why the server is gone.
    pub fn verify_remote(&mut self) -> Result<()> {
        let Some(server) = self.server.clone() else { return Ok(()) };
        #[cfg(target_arch = "wasm32")]
        return Err(LanternError::Device(format!("the web page has no remote client for {server}")));
        #[cfg(not(target_arch = "wasm32"))]
        crate::device::check_remote(&self.device, crate::device::REMOTE_CHECK).map_err(|e| {
            self.use_device(None, None);
            self.lost = Some(DeviceLost { server: server.clone(), reason: e.to_string() });
            LanternError::Device(format!("lost the remote server {server}: {e}"))
        })
    }
}

/// One kind of work the worker runs.
pub trait Job: Send + 'static {
    type Output: Send + 'static;

    /// Do the work with the worker's cache; `control` carries the cancel flag and the progress.
    fn run(self, cache: &mut Cache, control: &mut Control) -> Result<Self::Output>;

    /// On the web page: the job as a request for the compute worker ([`super::offload`]), or
    /// `None` to run it on the page's thread.
    #[cfg(target_arch = "wasm32")]
    fn offload(&self) -> Option<super::offload::Offload<Self::Output>> {
        None
    }
}

/// Progress of the job running in a lane.
#[derive(Debug)]
pub struct ProgressReport {
    pub lane: LaneKey,
    pub token: Token,
    pub done: usize,
    pub total: usize,
    /// The map of the work done so far, for methods that give one.
    pub partial: Option<Arc<WeightMap>>,
}

type Run<E> = Box<dyn FnOnce(&mut Cache, &AtomicBool, &mut dyn FnMut(Progress<'_>)) -> E + Send>;

/// A job waiting in a queue, its answer typed by the closure that made it.
struct Queued<E> {
    lane: Option<(LaneKey, Token)>,
    run: Run<E>,
    /// On the web page, the job as the compute worker takes it, if it can.
    #[cfg(target_arch = "wasm32")]
    offload: Option<ForWorker<E>>,
}

/// A job for the web page's compute worker: its request, and how its answer (the job's output
/// as text, or why there is none) becomes its event.
#[cfg(target_arch = "wasm32")]
struct ForWorker<E> {
    job: String,
    model: u64,
    image: u64,
    answer: Box<dyn FnOnce(Result<String, JobError>) -> E>,
}

/// The web page's worker: the cache and the event sender, and the compute worker with the job
/// it is running.
#[cfg(target_arch = "wasm32")]
struct Inline<E> {
    cache: Cache,
    tx: Sender<E>,
    repaint: std::rc::Rc<dyn Fn()>,
    /// `None` when the page could not start one (the jobs then run on the page's thread).
    offloader: Option<super::offload::Offloader>,
    in_flight: Option<InFlight<E>>,
}

/// The job the compute worker runs.
#[cfg(target_arch = "wasm32")]
struct InFlight<E> {
    request: u64,
    lane: Option<(LaneKey, Token)>,
    cancel: Arc<AtomicBool>,
    answer: Box<dyn FnOnce(Result<String, JobError>) -> E>,
}

struct Queue<E> {
    /// Loads, then the views' explanations, then the similarity jobs.
    waiting: [VecDeque<Queued<E>>; 3],
    running: Option<(LaneKey, Arc<AtomicBool>)>,
    /// The app is closing: the worker thread ends.
    #[cfg(not(target_arch = "wasm32"))]
    shutdown: bool,
}

impl<E> Queue<E> {
    /// Drop the pending job of `lane` and cancel the one running in it: the one copy of the
    /// cancel code.
    fn cancel(&mut self, lane: LaneKey) {
        self.waiting[lane.queue()].retain(|j| j.lane.is_none_or(|(l, _)| l != lane));
        if let Some((running, cancel)) = &self.running
            && *running == lane
        {
            cancel.store(true, Ordering::Relaxed);
        }
    }
}

struct Shared<E> {
    queue: Mutex<Queue<E>>,
    wake: Condvar,
}

/// Handle to the worker thread; it answers with events of type `E`.
pub struct Worker<E> {
    shared: Arc<Shared<E>>,
    events: Receiver<E>,
    #[cfg(not(target_arch = "wasm32"))]
    thread: Option<std::thread::JoinHandle<()>>,
    /// The web page's worker, run by [`Worker::poll`].
    #[cfg(target_arch = "wasm32")]
    inline: std::cell::RefCell<Inline<E>>,
}

impl<E: From<ProgressReport> + From<DeviceLost> + Send + 'static> Worker<E> {
    /// Start the worker; `repaint` is called whenever an event is sent.
    pub fn start(device: Device, repaint: impl Fn() + Send + 'static) -> Self {
        let queue = Queue {
            waiting: Default::default(),
            running: None,
            #[cfg(not(target_arch = "wasm32"))]
            shutdown: false,
        };
        let shared = Arc::new(Shared { queue: Mutex::new(queue), wake: Condvar::new() });
        let (tx, events) = channel();
        let cache = Cache::new(device);
        #[cfg(not(target_arch = "wasm32"))]
        {
            let thread_shared = Arc::clone(&shared);
            let thread = std::thread::Builder::new()
                .name("lantern-worker".into())
                .spawn(move || run(thread_shared, cache, tx, Box::new(repaint)))
                .expect("the worker thread starts");
            Self { shared, events, thread: Some(thread) }
        }
        #[cfg(target_arch = "wasm32")]
        {
            let repaint: std::rc::Rc<dyn Fn()> = std::rc::Rc::new(repaint);
            let offloader = match super::offload::Offloader::start(std::rc::Rc::clone(&repaint)) {
                Ok(o) => Some(o),
                Err(e) => {
                    web_sys::console::warn_1(&format!("{e}: explanations run on the page's thread").into());
                    None
                }
            };
            let inline = Inline { cache, tx, repaint, offloader, in_flight: None };
            Self { shared, events, inline: std::cell::RefCell::new(inline) }
        }
    }

    fn push(&self, f: impl FnOnce(&mut Queue<E>)) {
        let mut q = self.shared.queue.lock().expect("worker queue lock");
        f(&mut q);
        self.shared.wake.notify_one();
        // In the browser the queue runs at the next frame: ask for one.
        #[cfg(target_arch = "wasm32")]
        (self.inline.borrow().repaint)();
    }

    /// Queue a load (run in order, before the lanes' jobs); `answer` makes its event.
    pub fn load<J: Job>(&self, job: J, answer: impl Fn(Result<J::Output, JobError>) -> E + Send + Sync + 'static) {
        let queued = queued(None, job, answer);
        self.push(|q| q.waiting[0].push_back(queued));
    }

    /// Queue `job` as the newest of `lane`, with the token of its request: an older pending job
    /// of the lane is dropped, and one running in it is cancelled.
    pub fn submit<J: Job>(
        &self,
        lane: LaneKey,
        token: Token,
        job: J,
        answer: impl Fn(Result<J::Output, JobError>) -> E + Send + Sync + 'static,
    ) {
        let queued = queued(Some((lane, token)), job, answer);
        self.push(|q| {
            q.cancel(lane);
            q.waiting[lane.queue()].push_back(queued);
        });
    }

    /// Cancel whatever runs in `lane` and drop its pending job.
    pub fn cancel(&self, lane: LaneKey) {
        self.push(|q| q.cancel(lane));
    }

    /// Every event that arrived since the last call.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn poll(&self) -> Vec<E> {
        self.events.try_iter().collect()
    }

    /// Take the compute worker's answers, then start the next waiting job: in the compute worker
    /// when it can run there and the worker is free, else on this thread (the page has no other);
    /// then every event that arrived since the last call.
    #[cfg(target_arch = "wasm32")]
    pub fn poll(&self) -> Vec<E> {
        let mut guard = self.inline.borrow_mut();
        let inline = &mut *guard;
        self.take_answers(inline);
        let next = {
            let mut q = self.shared.queue.lock().expect("worker queue lock");
            let offloading = inline.offloader.as_ref().map(|o| o.ready() && inline.in_flight.is_none());
            // A job that needs the compute worker waits for it; while it computes, the page runs
            // only loads (a view's job would replace the running one's lane).
            let may_run = |j: &Queued<E>| match (&j.offload, offloading) {
                (Some(_), Some(free)) => free,
                _ => inline.in_flight.is_none() || j.lane.is_none(),
            };
            let found = q.waiting.iter().enumerate().find_map(|(i, w)| w.iter().position(may_run).map(|k| (i, k)));
            found.and_then(|(i, k)| q.waiting[i].remove(k)).map(|job| {
                let cancel = Arc::new(AtomicBool::new(false));
                if let Some((lane, _)) = job.lane {
                    q.running = Some((lane, Arc::clone(&cancel)));
                }
                (job, cancel)
            })
        };
        if let Some((mut job, cancel)) = next {
            match (job.offload.take(), inline.offloader.as_mut()) {
                (Some(o), Some(offloader)) => match inline
                    .cache
                    .offloadable(o.model, o.image)
                    .and_then(|(model, image)| offloader.send(o.job, (o.model, model), (o.image, image)))
                {
                    Ok(request) => {
                        inline.in_flight = Some(InFlight { request, lane: job.lane, cancel, answer: o.answer })
                    }
                    Err(e) => {
                        let _ = inline.tx.send((o.answer)(Err(JobError::Failed(e))));
                        self.shared.queue.lock().expect("worker queue lock").running = None;
                    }
                },
                _ => {
                    run_one(job, &cancel, &mut inline.cache, &inline.tx, inline.repaint.as_ref());
                    if inline.in_flight.is_none() {
                        self.shared.queue.lock().expect("worker queue lock").running = None;
                    }
                }
            }
        }
        self.events.try_iter().collect()
    }

    /// The device the page's compute worker computes on, described, and whether it is WebGPU
    /// (once it listens).
    #[cfg(target_arch = "wasm32")]
    pub fn compute_device(&self) -> Option<(String, bool)> {
        self.inline.borrow().offloader.as_ref().and_then(|o| o.device().cloned())
    }

    /// The compute worker's progress and answers, as events; a job cancelled while it computes
    /// ends that worker (it cannot be interrupted) and a fresh one is started.
    #[cfg(target_arch = "wasm32")]
    fn take_answers(&self, inline: &mut Inline<E>) {
        use super::offload::{Offloader, Reply};
        if let Some(why) = inline.offloader.as_ref().and_then(Offloader::failed) {
            web_sys::console::warn_1(&format!("{why}: explanations run on the page's thread").into());
            inline.offloader = None;
            // The job it was running will never be answered by it.
            if let Some(f) = inline.in_flight.take() {
                let _ = inline.tx.send((f.answer)(Err(JobError::Failed(LanternError::Device(why)))));
                self.shared.queue.lock().expect("worker queue lock").running = None;
                (inline.repaint)();
            }
        }
        let Some(offloader) = inline.offloader.as_mut() else { return };
        let mut finished = None;
        for reply in offloader.replies() {
            match (reply, &inline.in_flight) {
                (Reply::Progress { id, done, total }, Some(f)) if f.request == id => {
                    if let Some((lane, token)) = f.lane {
                        let _ = inline.tx.send(E::from(ProgressReport { lane, token, done, total, partial: None }));
                    }
                }
                (Reply::Done { id, result }, Some(f)) if f.request == id => {
                    finished = Some(result.map_err(|e| JobError::Failed(LanternError::Computed(e))));
                }
                _ => {}
            }
        }
        let cancelled = inline.in_flight.as_ref().is_some_and(|f| f.cancel.load(Ordering::Relaxed));
        if finished.is_none() && !cancelled {
            return;
        }
        let Some(f) = inline.in_flight.take() else { return };
        let _ = inline.tx.send((f.answer)(finished.unwrap_or(Err(JobError::Cancelled))));
        let mut q = self.shared.queue.lock().expect("worker queue lock");
        q.running = None;
        if cancelled {
            inline.offloader = Offloader::start(std::rc::Rc::clone(&inline.repaint)).ok();
        }
        (inline.repaint)();
    }

    /// Block until an event arrives or `timeout` passes (tests use this; the UI never does).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn wait(&self, timeout: Duration) -> Option<E> {
        self.events.recv_timeout(timeout).ok()
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl<E> Drop for Worker<E> {
    fn drop(&mut self) {
        if let Ok(mut q) = self.shared.queue.lock() {
            q.shutdown = true;
            if let Some((_, cancel)) = &q.running {
                cancel.store(true, Ordering::Relaxed);
            }
            self.shared.wake.notify_one();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// `job` queued in `lane` (none for a load), answered by `answer`; on the web page also as the
/// compute worker's request when it can run there.
fn queued<J: Job, E: 'static>(
    lane: Option<(LaneKey, Token)>,
    job: J,
    answer: impl Fn(Result<J::Output, JobError>) -> E + Send + Sync + 'static,
) -> Queued<E> {
    let answer = Arc::new(answer);
    #[cfg(target_arch = "wasm32")]
    let offload = job.offload().map(|o| {
        let answer = Arc::clone(&answer);
        let decode = o.decode;
        ForWorker {
            job: o.job,
            model: o.model,
            image: o.image,
            answer: Box::new(move |r: Result<String, JobError>| {
                answer(r.and_then(|text| decode(&text).map_err(JobError::from)))
            }) as Box<dyn FnOnce(Result<String, JobError>) -> E>,
        }
    });
    Queued {
        lane,
        run: runner(job, move |r| answer(r)),
        #[cfg(target_arch = "wasm32")]
        offload,
    }
}

/// The job as the worker runs it: with its cancel flag and progress, a panic in it caught, and
/// its outcome made into its event.
fn runner<J: Job, E: 'static>(
    job: J,
    answer: impl Fn(Result<J::Output, JobError>) -> E + Send + Sync + 'static,
) -> Run<E> {
    Box::new(move |cache, cancel, progress| {
        let mut control = Control::with_progress(cancel, progress);
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job.run(cache, &mut control)));
        let result = match outcome {
            Ok(result) => result.map_err(JobError::from),
            Err(panic) => Err(JobError::Failed(panicked(panic.as_ref()))),
        };
        // A failure on a remote device may be the server gone: if so, the worker falls back
        // and the failure says so.
        if matches!(result, Err(JobError::Failed(_)))
            && let Err(lost) = cache.verify_remote()
        {
            return answer(Err(JobError::Failed(lost)));
        }
        answer(result)
    })
}

/// A panic in a job must not take the worker down with it, and whoever waits for the job gets
/// an answer: this error.
fn panicked(panic: &(dyn std::any::Any + Send)) -> LanternError {
    let what = crate::error::panic_message(panic).unwrap_or_default();
    LanternError::Internal(format!("the background job failed unexpectedly: {what}"))
}

/// Passes progress on at most ~20 times a second (partial maps are copied to the UI thread),
/// and always the last step.
#[derive(Default)]
pub struct Throttle {
    last: Option<Instant>,
}

impl Throttle {
    pub fn lets_through(&mut self, done: usize, total: usize) -> bool {
        if done < total && self.last.is_some_and(|t| t.elapsed() < Duration::from_millis(50)) {
            return false;
        }
        self.last = Some(Instant::now());
        true
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn run<E: From<ProgressReport> + From<DeviceLost> + Send + 'static>(
    shared: Arc<Shared<E>>,
    mut cache: Cache,
    tx: Sender<E>,
    repaint: Box<dyn Fn() + Send>,
) {
    loop {
        let (job, cancel) = {
            let mut q = shared.queue.lock().expect("worker queue lock");
            q.running = None;
            loop {
                if q.shutdown {
                    return;
                }
                if let Some(job) = q.waiting.iter_mut().find_map(VecDeque::pop_front) {
                    let cancel = Arc::new(AtomicBool::new(false));
                    if let Some((lane, _)) = job.lane {
                        q.running = Some((lane, Arc::clone(&cancel)));
                    }
                    break (job, cancel);
                }
                q = shared.wake.wait(q).expect("worker queue lock");
            }
        };
        run_one(job, &cancel, &mut cache, &tx, repaint.as_ref());
    }
}

/// Run `job`, passing its progress on, and send its event.
fn run_one<E: From<ProgressReport> + From<DeviceLost>>(
    job: Queued<E>,
    cancel: &AtomicBool,
    cache: &mut Cache,
    tx: &Sender<E>,
    repaint: &dyn Fn(),
) {
    let mut throttle = Throttle::default();
    let lane = job.lane;
    let mut progress = |p: Progress<'_>| {
        let Some((lane, token)) = lane else { return };
        if throttle.lets_through(p.done, p.total) {
            let partial = p.partial.cloned().map(Arc::new);
            let _ = tx.send(E::from(ProgressReport { lane, token, done: p.done, total: p.total, partial }));
            repaint();
        }
    };
    let event = (job.run)(cache, cancel, &mut progress);
    let _ = tx.send(event);
    if let Some(lost) = cache.lost.take() {
        let _ = tx.send(E::from(lost));
    }
    repaint();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A job that panics with `message`.
    struct Panics(&'static str);

    impl Job for Panics {
        type Output = ();
        fn run(self, _: &mut Cache, _: &mut Control) -> Result<()> {
            panic!("{}", self.0)
        }
    }

    /// A job that runs until cancelled, reporting progress.
    struct Spins;

    impl Job for Spins {
        type Output = ();
        fn run(self, _: &mut Cache, control: &mut Control) -> Result<()> {
            for i in 0.. {
                control.check()?;
                control.report(i, usize::MAX, None);
                std::thread::sleep(Duration::from_millis(1));
            }
            Ok(())
        }
    }

    #[derive(Debug)]
    enum Event {
        Explained(Slot, Token, Result<(), JobError>),
        Mask(u64, Result<(), JobError>),
        Progress(Token),
        /// (The worker on the local device never loses it: `tests/app_remote.rs` covers this.)
        Lost,
    }

    impl From<DeviceLost> for Event {
        fn from(_: DeviceLost) -> Self {
            Event::Lost
        }
    }

    impl From<ProgressReport> for Event {
        fn from(p: ProgressReport) -> Self {
            Event::Progress(p.token)
        }
    }

    /// The next event other than progress.
    fn answer(w: &Worker<Event>) -> Event {
        loop {
            match w.wait(Duration::from_secs(30)).expect("an answer") {
                Event::Progress(_) => continue,
                e => return e,
            }
        }
    }

    #[test]
    fn a_panicking_job_is_answered_with_a_failure_for_its_waiter() {
        let w = Worker::start(Device::flex(), || {});
        let token = Token::fresh();
        w.submit(LaneKey::View(Slot::Main), token, Panics("the map was NaN"), move |r| {
            Event::Explained(Slot::Main, token, r)
        });
        match answer(&w) {
            Event::Explained(Slot::Main, t, Err(JobError::Failed(e))) if t == token => {
                assert!(e.to_string().contains("the map was NaN"), "{e}")
            }
            e => panic!("the explanation's waiter gets the failure: {e:?}"),
        }
        w.load(Panics("bad mask"), |r| Event::Mask(3, r));
        assert!(
            matches!(answer(&w), Event::Mask(3, Err(JobError::Failed(ref e))) if e.to_string().contains("bad mask"))
        );
    }

    #[test]
    fn a_newer_job_of_a_lane_cancels_the_running_one_with_a_typed_cancel() {
        let w = Worker::start(Device::flex(), || {});
        let (first, second) = (Token::fresh(), Token::fresh());
        let lane = LaneKey::View(Slot::Cell(0));
        w.submit(lane, first, Spins, move |r| Event::Explained(Slot::Cell(0), first, r));
        // Wait until it runs (it reports progress), then replace it.
        while !matches!(w.wait(Duration::from_secs(30)), Some(Event::Progress(t)) if t == first) {}
        w.submit(lane, second, Spins, move |r| Event::Explained(Slot::Cell(0), second, r));
        assert!(matches!(answer(&w), Event::Explained(_, t, Err(JobError::Cancelled)) if t == first));
        while !matches!(w.wait(Duration::from_secs(30)), Some(Event::Progress(t)) if t == second) {}
        w.cancel(lane);
        assert!(matches!(answer(&w), Event::Explained(_, t, Err(JobError::Cancelled)) if t == second));
    }
}
