/** Where the dev and preview servers answer Wisp (vite.config.ts), and where the page's ?net=user looks by default. */
export const WISP_PATH = '/wisp/';
