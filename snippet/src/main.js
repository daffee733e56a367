import { install } from "./index.js";
import { safe } from "./util.js";

safe(install)(window);
