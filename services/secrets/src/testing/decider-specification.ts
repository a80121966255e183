/** given(events).when(command).then(events) / .thenThrows(check), after emmett's DeciderSpecification; no mocks. */
export interface Decider<Command, Event, State> {
  decide(command: Command, state: State): readonly Event[];
  evolve(state: State, event: Event): State;
  initialState(): State;
}

export interface DeciderSpecification<Command, Event> {
  given(events: readonly Event[]): {
    when(command: Command): {
      then(expected: readonly Event[]): void;
      thenThrows<E extends Error>(check: (error: E) => void): void;
    };
  };
}

export function deciderSpecificationFor<Command, Event, State>(
  decider: Decider<Command, Event, State>,
): DeciderSpecification<Command, Event> {
  return {
    given: (events) => ({
      when: (command) => {
        const decide = () => decider.decide(command, events.reduce(decider.evolve, decider.initialState()));
        return {
          then: (expected) => expect(decide()).toEqual(expected),
          thenThrows: <E extends Error>(check: (error: E) => void) => {
            let thrown: unknown;
            try {
              decide();
            } catch (error) {
              thrown = error;
            }
            expect(thrown).toBeInstanceOf(Error);
            check(thrown as E);
          },
        };
      },
    }),
  };
}
