import{m}from"./maplibre-DWHYcGxA.js";export{m as default};
