import './base.css';
import './env.css';
import './cost.css';
import './pipelines.css';
import './artifacts.css';
