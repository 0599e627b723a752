import type { ListAct } from './keys';
import { useEffect, useLayoutEffect, useRef, useState } from 'react';
import { subscribeChanges } from './api';

export type Loaded<T> = {
  data: T | null;
  error: string | null;
  loading: boolean;
  /** Bumped on each successful load (cache-buster for chart images). */
  version: number;
  /** Unix seconds when the data arrived: the "now" for relative times. */
  now: number;
};

/**
 * Fetches a view's data, then refetches when a change event names `topic` ('*' = any event).
 * Keeps showing the previous data while a refetch is in flight.
 */
export function useApi<T>(fetcher: (signal: AbortSignal) => Promise<T>, topic: string): Loaded<T> {
  const [state, setState] = useState<Loaded<T>>({
    data: null,
    error: null,
    loading: true,
    version: 0,
    now: Math.floor(Date.now() / 1000),
  });
  const [tick, setTick] = useState(0);
  const fetcherRef = useRef(fetcher);
  fetcherRef.current = fetcher;

  useEffect(() => {
    const ctrl = new AbortController();
    fetcherRef.current(ctrl.signal).then(
      (data) => {
        if (ctrl.signal.aborted) return;
        setState((s) => ({ data, error: null, loading: false, version: s.version + 1, now: Math.floor(Date.now() / 1000) }));
      },
      (e: unknown) => {
        if (ctrl.signal.aborted) return;
        const message = e instanceof Error ? e.message : String(e);
        setState((s) => ({ ...s, error: message, loading: false }));
      },
    );
    return () => ctrl.abort();
  }, [tick]);

  useEffect(
    () =>
      subscribeChanges((event) => {
        // No topics: anything may have changed (another instance's relay fell behind).
        if (!event || topic === '*' || event.topics.length === 0 || event.topics.includes(topic)) setTick((t) => t + 1);
      }),
    [topic],
  );

  return state;
}

/** What the keyboard handler needs to know about the current view's main list. */
export type ListHandle = {
  count: number;
  open: ((index: number) => void) | null;
  /** Escape: closes what the view has open (a detail panel); true when something closed. */
  close?: (() => boolean) | null;
  /** a / m / r on the selected row, in views that take decisions (Changes). */
  act?: ((index: number, act: ListAct) => void) | null;
};

export type ViewProps = {
  selected: number;
  setSelected: (index: number) => void;
  list: React.MutableRefObject<ListHandle>;
};

/**
 * Registers the view's main list (length, what Enter does and, optionally, what Escape closes)
 * with the app's key handler.
 */
export function useList(
  list: React.MutableRefObject<ListHandle>,
  count: number,
  open: (index: number) => void,
  close?: () => boolean,
  act?: (index: number, act: ListAct) => void,
) {
  const openRef = useRef(open);
  openRef.current = open;
  const closeRef = useRef(close);
  closeRef.current = close;
  const actRef = useRef(act);
  actRef.current = act;
  // A layout effect: registered before the rows are painted, so a key pressed as soon as they
  // show finds them (a passive effect could still be pending when a native keydown arrives).
  useLayoutEffect(() => {
    list.current.count = count;
    list.current.open = (i) => openRef.current(i);
    list.current.close = () => closeRef.current?.() ?? false;
    list.current.act = (i, a) => actRef.current?.(i, a);
  }, [list, count]);
  useEffect(
    () => () => {
      list.current.count = 0;
      list.current.open = null;
      list.current.close = null;
      list.current.act = null;
    },
    [list],
  );
}

/** Index of the expanded detail row, toggled by Enter or double-click. */
export function useExpanded(): [number, (index: number) => void, (index: number) => void] {
  const [expanded, setExpanded] = useState(-1);
  const toggle = useRef((index: number) => setExpanded((e) => (e === index ? -1 : index))).current;
  return [expanded, toggle, setExpanded];
}
