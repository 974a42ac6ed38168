/**
 * Notification toasts: the event -> toast mapping, and EventToasts reading the
 * real EventsClient over an in-memory fetch (no replay on load, one toast per
 * subject, the actions). JupyterLab's `Notification` is stood in for by a
 * recorder with the same two methods.
 */
import { json, subjectClientWith } from './fixtures';
import {
  EventsClient,
  type IMlopsEvent
} from '../../labextension/src/api/events';
import {
  ACTION_LABELS,
  EventToasts,
  type INotificationApi,
  MAX_MESSAGE,
  toastOf
} from '../../labextension/src/notifications';

const WARNING: IMlopsEvent = {
  seq: 4,
  time: 1_800_000_000,
  kind: 'idle-policy',
  state: 'warning',
  message:
    'Kernel of train.ipynb has held GPU 0 idle for 20 min ($1.20 so far): shutting down in 10 min',
  action: 'shutdown',
  resource: 'gpu',
  kernel_id: 'k-1',
  notebook: 'train.ipynb',
  run_id: '',
  act_at: 1_800_000_600
};
const FAILED: IMlopsEvent = {
  seq: 5,
  time: 1_800_000_100,
  kind: 'pipeline',
  state: 'FAILED',
  message: 'Pipeline train ended FAILED: train: ValueError: boom',
  launch_id: 'L1',
  name: 'train',
  path: 'train.ipynb',
  run_id: 'run-9',
  error: 'train: ValueError: boom'
};

describe('toastOf', () => {
  it('maps idle-policy states to toasts with actions', () => {
    const warning = toastOf(WARNING);
    expect(warning).toMatchObject({
      type: 'warning',
      message: WARNING.message,
      actions: ['keep-alive'],
      autoClose: false,
      subject: 'kernel:k-1',
      kernelId: 'k-1'
    });
    expect(toastOf({ ...WARNING, run_id: 'r1' })?.actions).toEqual([
      'keep-alive',
      'open-run'
    ]);
    expect(toastOf({ ...WARNING, state: 'would-act' })?.type).toBe('info');
    const acted = toastOf({ ...WARNING, state: 'acted', run_id: 'r1' });
    expect(acted).toMatchObject({ type: 'warning', actions: ['open-run'] });
    expect(toastOf({ ...WARNING, state: 'cleared' })).toBeNull();
  });

  it('maps pipelines, budgets and leaves idle-gpu alerts to the Waste list', () => {
    expect(toastOf(FAILED)).toMatchObject({
      type: 'error',
      actions: ['open-run'],
      subject: 'launch:L1',
      runId: 'run-9'
    });
    expect(toastOf({ ...FAILED, state: 'KILLED' })?.type).toBe('warning');
    expect(toastOf({ ...FAILED, state: 'FINISHED' })).toMatchObject({
      type: 'success',
      autoClose: 8000
    });
    expect(toastOf({ ...FAILED, state: 'RUNNING' })).toBeNull();
    const budget: IMlopsEvent = {
      seq: 1,
      time: 0,
      kind: 'budget',
      state: 'fired',
      project: 'vision',
      threshold: 0.8,
      message: 'vision spent $80 of $100 this week'
    };
    expect(toastOf(budget)).toMatchObject({ type: 'warning', actions: [] });
    expect(toastOf({ ...budget, threshold: 1 })?.type).toBe('error');
    expect(toastOf({ ...budget, kind: 'idle-gpu', state: 'fired' })).toBeNull();
  });

  it('leaves the folders of the notebook out of the text', () => {
    const toast = toastOf({
      ...WARNING,
      notebook: 'team/exp/train.ipynb',
      message: 'Kernel of team/exp/train.ipynb has held GPU 0 idle'
    });
    expect(toast?.message).toBe('Kernel of train.ipynb has held GPU 0 idle');
    expect(toast?.notebook).toBe('train.ipynb');
  });

  it('keeps markup as text and cuts long messages', () => {
    const markup = '<img src=x onerror=alert(1)> train.ipynb';
    expect(toastOf({ ...WARNING, message: markup })?.message).toBe(markup);
    const long = toastOf({ ...WARNING, message: 'x'.repeat(1000) });
    expect(long?.message.length).toBe(MAX_MESSAGE);
  });
});

/** A recorder of what JupyterLab's Notification was asked to do. */
class Recorder implements INotificationApi {
  shown: {
    id: string;
    message: string;
    type: string;
    labels: string[];
    run: (label: string) => void;
  }[] = [];
  dismissed: string[] = [];

  emit(
    message: string,
    type: string,
    options: {
      autoClose: number | false;
      actions?: { label: string; callback: () => void }[];
    }
  ): string {
    const id = `toast-${this.shown.length}`;
    const actions = options.actions ?? [];
    this.shown.push({
      id,
      message,
      type,
      labels: actions.map(a => a.label),
      run: label => actions.find(a => a.label === label)?.callback()
    });
    return id;
  }

  dismiss(id?: string): void {
    this.dismissed.push(id ?? '*');
  }
}

/** A server whose feed holds `events`; records keep-alive bodies. */
function server(events: IMlopsEvent[]) {
  const keptAlive: unknown[] = [];
  const { client, urls } = subjectClientWith(
    EventsClient,
    async (url, request) => {
      if (url.pathname.endsWith('/cost/keep-alive')) {
        const body = JSON.parse(await request.text());
        keptAlive.push(body);
        if (body.kernel_id === 'gone') {
          return json(
            { error: 'NotFoundError', message: 'No kernel gone.', hint: 'h' },
            404
          );
        }
        return json({ kernel_id: body.kernel_id, until: 1_800_007_200 });
      }
      const after = url.searchParams.get('after');
      const seq = events.length ? events[events.length - 1].seq : 0;
      return json({
        seq,
        events: after === null ? [] : events.filter(e => e.seq > Number(after))
      });
    }
  );
  return { client, urls, keptAlive };
}

describe('EventToasts', () => {
  it('starts at the newest seq, then shows new events once', async () => {
    const events = [{ ...WARNING, seq: 1 }];
    const { client, urls } = server(events);
    const notifications = new Recorder();
    const toasts = new EventToasts({
      client,
      notifications,
      openRun: () => undefined
    });
    await toasts.read();
    expect(notifications.shown).toEqual([]); // no replay on page load
    events.push(FAILED);
    await toasts.read();
    await toasts.read();
    expect(notifications.shown.map(t => [t.type, t.message])).toEqual([
      ['error', FAILED.message]
    ]);
    expect(urls.map(u => u.searchParams.get('after'))).toEqual([
      null,
      '1',
      '5'
    ]);
    toasts.dispose();
  });

  it('replaces a kernel warning by its action and dismisses it when cleared', () => {
    const { client } = server([]);
    const notifications = new Recorder();
    const toasts = new EventToasts({
      client,
      notifications,
      openRun: () => undefined
    });
    toasts.show(WARNING);
    toasts.show({ ...WARNING, seq: 6, state: 'acted', message: 'shut down' });
    toasts.show({ ...WARNING, seq: 7, state: 'warning', act_at: 1 });
    toasts.show({ ...WARNING, seq: 8, state: 'cleared', message: 'back' });
    expect(notifications.shown.map(t => t.id)).toEqual([
      'toast-0',
      'toast-1',
      'toast-2'
    ]);
    expect(notifications.dismissed).toEqual(['toast-0', 'toast-1', 'toast-2']);
    toasts.dispose();
  });

  it('keeps a kernel alive for 2 h and confirms; says why when it cannot', async () => {
    const { client, keptAlive } = server([]);
    const notifications = new Recorder();
    const opened: string[] = [];
    const toasts = new EventToasts({
      client,
      notifications,
      openRun: runId => opened.push(runId)
    });
    toasts.show({ ...WARNING, run_id: 'r1' });
    expect(notifications.shown[0].labels).toEqual([
      ACTION_LABELS['keep-alive'],
      ACTION_LABELS['open-run']
    ]);
    notifications.shown[0].run(ACTION_LABELS['open-run']);
    expect(opened).toEqual(['r1']);
    const warning = toastOf(WARNING)!;
    await toasts.act('keep-alive', warning);
    expect(keptAlive).toEqual([{ kernel_id: 'k-1', minutes: 120 }]);
    const confirmation = notifications.shown[notifications.shown.length - 1];
    expect(confirmation.type).toBe('success');
    expect(confirmation.message).toMatch(
      /^Kept alive until \d\d:\d\d: the idle policy leaves train\.ipynb alone/
    );
    await toasts.act('keep-alive', { ...warning, kernelId: 'gone' });
    const refusal = notifications.shown[notifications.shown.length - 1];
    expect(refusal.type).toBe('error');
    expect(refusal.message).toContain('No kernel gone.');
    toasts.dispose();
  });
});
