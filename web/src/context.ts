import { createContext } from "react";

export interface EditorApi {
  relabel(id: string, label: string): void;
}

export const EditorContext = createContext<EditorApi>({ relabel: () => {} });
